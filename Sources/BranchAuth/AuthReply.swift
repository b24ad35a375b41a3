import BranchREST

/// Responses of the auth endpoints: JSON with GoTrue's API version header.
enum AuthReply {
    /// Sent on every auth response; clients read the error `code` only when it is there.
    static let apiVersionHeader = (name: "X-Supabase-Api-Version", value: "2024-01-01")

    /// A JSON answer.
    static func json(_ status: Int, _ text: String, headers: [(name: String, value: String)] = []) -> DataResponse {
        DataResponse.json(status, Array(text.utf8), headers: [apiVersionHeader] + headers)
    }

    /// An answer without a body (204).
    static func empty(_ status: Int = 204) -> DataResponse {
        DataResponse(status: status, headers: [apiVersionHeader])
    }

    /// An error answer.
    static func failure(_ failure: AuthFailure) -> DataResponse {
        json(failure.status, failure.body)
    }
}
