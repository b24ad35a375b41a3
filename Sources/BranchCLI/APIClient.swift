import AsyncHTTPClient
import BranchAPI
import BranchMCP
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime

/// The CLI's client of /api/v1: the `Client` generated from Sources/BranchAPI/openapi.json, over
/// async-http-client, with the admin key added and every API error turned into a `CLIError`
/// before the generated code sees the response, so a call reads
/// `try await APIClient.make().getProject(path: .init(project: name)).ok.body.json`.
enum APIClient {
    /// A service that is not there should be reported at once, not retried for minutes (the
    /// shared client keeps retrying connection establishment until its connect timeout).
    static let http = ServiceHTTPClient.make()

    /// A client of the service `configuration` names. The timeout is for the response to start:
    /// 30 minutes for calls that answer when their work is done (a merge, a restore), and no
    /// practical limit for `streaming` ones (`logs --follow`, `export`, `diff`), whose body then
    /// arrives piece by piece for as long as it takes.
    static func make(_ configuration: ClientConfiguration = .load(), streaming: Bool = false) throws -> Client {
        guard let url = URL(string: configuration.url) else {
            throw CLIError(
                code: "service_unreachable", message: "Cannot reach the Branch service at \(configuration.url): \(HTTPClientError.invalidURL).",
                hint: unreachableHint)
        }
        var middlewares: [any ClientMiddleware] = []
        if let token = configuration.token { middlewares.append(BearerToken(token: token)) }
        middlewares += [ErrorBodies(), Reachability(url: configuration.url, trust: configuration.trust)]
        return Client(
            serverURL: url,
            // Dates are ISO 8601 without fractional seconds, as the service writes them; request
            // bodies are compact JSON with sorted keys (the generated default pretty-prints them).
            configuration: Configuration(dateTranscoder: .iso8601, jsonEncodingOptions: [.sortedKeys]),
            transport: AsyncHTTPClientTransport(
                configuration: .init(client: try configuration.trust.httpClient(), timeout: streaming ? .hours(24 * 365) : .minutes(30))),
            middlewares: middlewares)
    }

    static let unreachableHint = "Is `branch serve` running? Set BRANCH_URL or run `branch login URL --token KEY`."

    /// What a failed call means to the user. The generated client wraps whatever a middleware or
    /// the decoding of a response threw in a `ClientError`, whose description holds the whole
    /// request (the admin key too), so it is never shown: its underlying error is.
    static func unwrapped(_ error: any Error) -> any Error {
        guard let clientError = error as? ClientError else { return error }
        switch clientError.underlyingError {
        case let error as CLIError: return error
        case let error as DecodingError:
            return CLIError(
                code: "bad_response", message: "The service sent a response this CLI does not understand: \(error).",
                hint: "Are the CLI and the service the same version? (`branch status`)")
        case let error: return error
        }
    }
}

// MARK: Middlewares, outermost first

/// Any answer that is not 2xx becomes the `CLIError` of its `{"error":{code,message,hint}}`
/// body, or `http_<status>` when the body is not one.
struct ErrorBodies: ClientMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let (response, responseBody) = try await next(request, body, baseURL)
        guard response.status.kind != .successful else { return (response, responseBody) }
        var data = Data()
        if let responseBody { data = (try? await Data(collecting: responseBody, upTo: 1 << 20)) ?? Data() }
        if let error = try? JSONDecoder().decode(Components.Schemas.ErrorBody.self, from: data) {
            let detail = error.error
            let statement = detail.sqlstate == nil && detail.statementIndex == nil ? nil : CLIError.StatementDetail(
                sqlstate: detail.sqlstate, detail: detail.detail, position: detail.position, line: detail.line,
                statementIndex: detail.statementIndex, statement: detail.statement)
            throw CLIError(code: detail.code, message: detail.message, hint: detail.hint, httpStatus: response.status.code, statement: statement)
        }
        // NIO's wording of the status ("413 Payload Too Large"), as before.
        let status = HTTPResponseStatus(statusCode: response.status.code)
        throw CLIError(code: "http_\(response.status.code)", message: "The service answered \(status).", httpStatus: response.status.code)
    }
}

/// No answer at all (nothing listening, a wrong host, the connect timeout): reported at once as
/// `service_unreachable`, with how to point the CLI at the service.
struct Reachability: ClientMiddleware {
    let url: String
    /// Which certificate an `https` service must present: a refused one is reported as such.
    var trust: ServiceTrust = .system

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        do {
            return try await next(request, body, baseURL)
        } catch {
            // What the transport threw, not the generated client's wrapper around it (it holds the request).
            let cause = (error as? ClientError)?.underlyingError ?? error
            if let refused = await CertificateFailure.explain(cause, url: url, trust: trust) { throw refused }
            throw CLIError(code: "service_unreachable", message: "Cannot reach the Branch service at \(url): \(cause).", hint: APIClient.unreachableHint)
        }
    }
}

// MARK: Streamed bodies

extension HTTPBody {
    /// Hands each line (without its `\n`) to `handle` as it arrives, skipping empty lines; a last
    /// line without `\n` counts too. Only the line being received is held in memory.
    func forEachLine(_ handle: (ArraySlice<UInt8>) throws -> Void) async throws {
        var pending: [UInt8] = []
        for try await chunk in self {
            var start = chunk.startIndex
            while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if pending.isEmpty {
                    if newline > start { try handle(chunk[start..<newline]) }
                } else {
                    pending += chunk[start..<newline]
                    try handle(pending[...])
                    pending.removeAll(keepingCapacity: true)
                }
                start = chunk.index(after: newline)
            }
            pending += chunk[start...]
        }
        if !pending.isEmpty { try handle(pending[...]) }
    }
}
