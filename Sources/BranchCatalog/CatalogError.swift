public import BranchCore

/// A catalog failure, or a lookup that found nothing.
public struct CatalogError: ReportableError {
    public let kind: ErrorCode
    public let detail: String

    public init(_ kind: ErrorCode, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var code: ErrorCode { kind }
    public var message: String { detail }
    public var hint: String? { nil }
}
