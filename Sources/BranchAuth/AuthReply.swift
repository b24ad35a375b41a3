import BranchREST
import Foundation

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

    /// A 303 to `target` with `query` added to its query.
    static func redirect(to target: String, query pairs: [(String, String)]) -> DataResponse {
        let base = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        let location = base + (base.contains("?") ? "&" : "?") + encoded(pairs)
        return DataResponse(status: 303, headers: [AuthReply.apiVersionHeader, ("Location", location), ("Cache-Control", "no-store")])
    }

    /// A 303 to `target` with `pairs` as its fragment.
    static func redirect(to target: String, fragment pairs: [(String, String)]) -> DataResponse {
        let base = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        return DataResponse(status: 303, headers: [AuthReply.apiVersionHeader, ("Location", "\(base)#\(encoded(pairs))"), ("Cache-Control", "no-store")])
    }

    static func encoded(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    }
}
