public import BranchCore

/// A catalog failure, or a lookup that found nothing.
public struct CatalogError: ReportableError {
    public let code: ErrorCode
    public let message: String

    init(_ code: ErrorCode, _ message: String) { (self.code, self.message) = (code, message) }

    public var hint: String? { nil }
}
