/// An error in PostgREST's four-key shape, `{"code","details","hint","message"}`, with the HTTP status
/// the contract gives it (docs: ../shared/design/DATA-API.md, "Errors"). The data API speaks HTTP by
/// definition, so its statuses live here rather than in BranchServer (docs/decisions.md).
package struct RESTError: Error, Sendable, Equatable {
    package var status: Int
    package var code: String
    package var message: String
    package var details: String?
    package var hint: String?
    /// Extra response headers (`WWW-Authenticate` for an expired JWT).
    package var headers: [(String, String)] = []

    package init(status: Int, code: String, message: String, details: String? = nil, hint: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
    }

    package static func == (lhs: RESTError, rhs: RESTError) -> Bool {
        lhs.status == rhs.status && lhs.code == rhs.code && lhs.message == rhs.message && lhs.details == rhs.details && lhs.hint == rhs.hint
    }
}
