package import BranchCore

/// A catalog failure, or a lookup that found nothing.
package struct CatalogError: ReportableError {
    package let code: ErrorCode
    package let message: String
    package let hint: String?

    init(_ code: ErrorCode, _ message: String, hint: String? = nil) { (self.code, self.message, self.hint) = (code, message, hint) }
}
