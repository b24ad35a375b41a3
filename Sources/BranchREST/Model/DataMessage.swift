/// A data API request as the protocols see it (`/rest/v1/...` or `/auth/v1/...` under a project's
/// base URL), independent of the HTTP server that received it.
package struct DataRequest: Sendable {
    /// `GET`, `HEAD`, `POST`, `PATCH`, `PUT`, `DELETE`, `OPTIONS`.
    package var method: String
    /// The path after the service prefix: `/todos`, `/rpc/add`, `/` (REST); `/token`, `/admin/users/ID` (auth).
    package var path: String
    /// The raw query string without `?`, still percent-encoded (decode with `FormQuery.pairs`).
    package var rawQuery: String
    /// Header names lower-cased, values as sent, repeated headers kept in order.
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
    /// The client's IP address, for rate limits.
    package var clientAddress: String?

    package init(method: String, path: String, rawQuery: String = "", headers: [(name: String, value: String)] = [], body: [UInt8] = [], clientAddress: String? = nil) {
        self.method = method
        self.path = path
        self.rawQuery = rawQuery
        self.headers = headers.map { ($0.name.lowercased(), $0.value) }
        self.body = body
        self.clientAddress = clientAddress
    }

    /// The first value of a header (name matched case-insensitively).
    package func header(_ name: String) -> String? {
        let name = name.lowercased()
        return headers.first { $0.name == name }?.value
    }

    /// Every value of a header, in order.
    package func headers(named name: String) -> [String] {
        let name = name.lowercased()
        return headers.filter { $0.name == name }.map(\.value)
    }
}

/// A data API response: status, headers and body, ready for any HTTP server to send.
package struct DataResponse: Sendable {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]

    package init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON body (`Content-Type: application/json; charset=utf-8`).
    package static func json(_ status: Int, _ body: [UInt8], headers: [(name: String, value: String)] = []) -> DataResponse {
        DataResponse(status: status, headers: [("Content-Type", "application/json; charset=utf-8")] + headers, body: body)
    }
}

/// Who a request runs as: the verified JWT's claims, and the database role they name.
package struct RequestIdentity: Sendable {
    /// `anon`, `authenticated`, `service_role`, or any role a signed token names.
    package var role: String
    /// The claims as JSON text, role included, for `request.jwt.claims`.
    package var claimsJSON: String

    package init(role: String, claimsJSON: String) {
        self.role = role
        self.claimsJSON = claimsJSON
    }

    package var isAnonymous: Bool { role == "anon" }
}
