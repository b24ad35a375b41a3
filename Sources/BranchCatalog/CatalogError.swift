package import BranchCore

/// A catalog failure, or a lookup that found nothing.
package struct CatalogError: ReportableError {
    package let code: ErrorCode
    package let message: String

    init(_ code: ErrorCode, _ message: String) { (self.code, self.message) = (code, message) }

    package var hint: String? { nil }
}
