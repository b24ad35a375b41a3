package import AsyncHTTPClient
package import BranchAPI
package import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime

/// The management API's generated client (`Client` from Sources/BranchAPI/openapi.json), by a
/// name that does not clash with MCP's own `Client`.
package typealias ManagementAPI = BranchAPI.Client

/// Where the tools' calls go and with which key: the service's URL and the caller's bearer key.
/// Every tool is a call to /api/v1 with this key, so the API's own authorization decides what
/// an agent may do.
package struct APIConnection: Sendable {
    /// The service's base URL (`http://127.0.0.1:8420`), without a trailing slash.
    package let serviceURL: URL
    /// The bearer key sent with every call (the admin key, or whatever key the API accepts).
    package let token: String?
    /// Headers sent with every call besides: the service's /mcp names the client it calls for.
    package var relayHeaders: [String: String] = [:]

    /// The HTTP client calls go through: the shared one, or one that trusts the service's own
    /// certificate (the service's /mcp calling its own HTTPS port).
    let http: HTTPClient

    /// `trusting`: the PEM certificate an `https` service must present (its own, self-signed);
    /// nil verifies as usual.
    package init(serviceURL: URL, token: String?, trusting certificatePEM: String? = nil) throws {
        var text = serviceURL.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        self.serviceURL = URL(string: text) ?? serviceURL
        self.token = token
        self.http = try certificatePEM.map { try Self.client(trusting: $0) } ?? Self.sharedHTTP
    }

    package init(serviceURL: URL, token: String?) {
        var text = serviceURL.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        self.serviceURL = URL(string: text) ?? serviceURL
        self.token = token
        self.http = Self.sharedHTTP
    }

    /// Calls go through `http` (the CLI's, which trusts what its configuration says: a pinned
    /// certificate, BRANCH_CA_FILE).
    package init(serviceURL: URL, token: String?, http: HTTPClient) {
        var text = serviceURL.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        self.serviceURL = URL(string: text) ?? serviceURL
        self.token = token
        self.http = http
    }

    /// One client per trusted certificate, for the life of the process.
    private static let pinnedClients = Mutex<[String: HTTPClient]>([:])

    /// A client that trusts exactly `certificatePEM` (a self-signed certificate), for whatever
    /// host name it is reached by.
    static func client(trusting certificatePEM: String) throws -> HTTPClient {
        try pinnedClients.withLock { clients in
            if let client = clients[certificatePEM] { return client }
            let client = ServiceHTTPClient.make(tls: try ServiceHTTPClient.pinnedTLS(certificatePEM))
            clients[certificatePEM] = client
            return client
        }
    }

    /// One shared HTTP client: a service that is not there is reported at once, not retried until
    /// the connect timeout.
    static let sharedHTTP = ServiceHTTPClient.make()

    /// How long a call may take to start answering: migrations, merges and restores answer when
    /// their work is done.
    static let responseTimeout: TimeAmount = .minutes(30)

    /// The generated client for this service and key: every answer that is not 2xx becomes the
    /// `ToolFailure` of its error body before the generated code sees it.
    package func client() -> ManagementAPI {
        var middlewares: [any ClientMiddleware] = []
        if let token { middlewares.append(BearerToken(token: token)) }
        if !relayHeaders.isEmpty { middlewares.append(RelayHeaders(headers: relayHeaders)) }
        middlewares += [APIErrors(), Reachability(url: serviceURL.absoluteString)]
        return ManagementAPI(
            serverURL: serviceURL,
            configuration: Configuration(dateTranscoder: .iso8601, jsonEncodingOptions: [.sortedKeys]),
            transport: AsyncHTTPClientTransport(configuration: .init(client: http, timeout: Self.responseTimeout)),
            middlewares: middlewares)
    }

    /// GETs a document of the service outside /api/v1 (a branch's data API documents) with
    /// `key` as both `apikey` and bearer key; returns the status and up to `limit` bytes of body.
    package func fetch(path: String, key: String?, accept: String, limit: Int = 16 << 20) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: serviceURL.absoluteString + path)
        request.headers.add(name: "Accept", value: accept)
        for (name, value) in relayHeaders { request.headers.add(name: name, value: value) }
        if let key {
            request.headers.add(name: "apikey", value: key)
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
        }
        do {
            let response = try await http.execute(request, timeout: .seconds(120))
            let body = try await response.body.collect(upTo: limit)
            return (Int(response.status.code), Data(body.readableBytesView))
        } catch {
            throw ToolFailure.unreachable(serviceURL.absoluteString, error)
        }
    }

    /// The generated client wraps what a middleware threw in a `ClientError`, whose description
    /// holds the whole request (the key too): only its underlying error is reported.
    package static func unwrapped(_ error: any Error) -> any Error {
        guard let clientError = error as? ClientError else { return error }
        switch clientError.underlyingError {
        case let failure as ToolFailure: return failure
        case let error as DecodingError:
            return ToolFailure(
                code: "bad_response", message: "The service sent an answer this MCP server does not understand: \(error).",
                hint: "Are `branch mcp` and the service the same version?")
        case let error: return error
        }
    }
}

extension ToolFailure {
    /// The service did not answer at all.
    static func unreachable(_ url: String, _ cause: any Error) -> ToolFailure {
        ToolFailure(
            code: "service_unreachable", message: "Cannot reach the Branch service at \(url): \(cause).",
            hint: "Is `branch serve` running? Set BRANCH_URL, or run `branch login URL --token KEY`.")
    }
}

// MARK: Middlewares, outermost first

/// Any answer that is not 2xx becomes the `ToolFailure` of its body.
struct APIErrors: ClientMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let (response, responseBody) = try await next(request, body, baseURL)
        guard response.status.kind != .successful else { return (response, responseBody) }
        var data = Data()
        if let responseBody { data = (try? await Data(collecting: responseBody, upTo: 1 << 20)) ?? Data() }
        throw ToolFailure.fromAPI(status: response.status.code, body: data)
    }
}

/// No answer at all (nothing listening, a wrong host, the connect timeout): `service_unreachable`.
struct Reachability: ClientMiddleware {
    let url: String

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        do {
            return try await next(request, body, baseURL)
        } catch {
            throw ToolFailure.unreachable(url, (error as? ClientError)?.underlyingError ?? error)
        }
    }
}

/// `APIConnection.relayHeaders` on every call of the generated client.
struct RelayHeaders: ClientMiddleware {
    let headers: [String: String]

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { request.headerFields[field] = value }
        }
        return try await next(request, body, baseURL)
    }
}
