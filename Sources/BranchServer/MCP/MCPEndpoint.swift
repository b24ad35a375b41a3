import BranchCore
import BranchEngine
import BranchMCP
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// `/mcp`: Branch's MCP tools over MCP's streamable HTTP transport, for an agent that reaches the
/// service over the network. The service's bearer-key check has run before (it guards every path
/// but the health check and the data API), and each tool calls /api/v1 on the service's own
/// loopback address with the caller's key, so a tool may do exactly what that key may do through
/// the API. The MCP side, stateless JSON answers per request, is `MCPHTTPExchange`'s.
final class MCPEndpoint: Sendable {
    /// Where this service answers on loopback, known once it listens.
    private let loopback = Mutex<URL?>(nil)
    /// With TLS on, the service's own certificate: the tools call its HTTPS port trusting exactly
    /// it (nil: plain HTTP).
    private let certificatePEM: String?

    /// `certificatePEM`: the service's certificate when it serves HTTPS.
    init(certificatePEM: String? = nil) {
        self.certificatePEM = certificatePEM
    }

    /// Records the address the service listens on (called when it starts).
    func serviceStarted(at address: SocketAddress?) {
        let url = Self.loopbackURL(for: address, scheme: certificatePEM == nil ? "http" : "https")
        loopback.withLock { $0 = url }
    }

    /// `http://127.0.0.1:PORT` for a service listening on all IPv4 addresses, `http://[::1]:PORT`
    /// on all IPv6 ones, else the address it listens on (`https://` with TLS on).
    static func loopbackURL(for address: SocketAddress?, scheme: String = "http") -> URL? {
        guard let address, let port = address.port, let ip = address.ipAddress else { return nil }
        let host: String
        switch address {
        case .v6: host = ip == "::" ? "[::1]" : "[\(ip)]"
        default: host = ip == "0.0.0.0" ? "127.0.0.1" : ip
        }
        return URL(string: "\(scheme)://\(host):\(port)")
    }

    /// Adds `/mcp` to `router`: POST carries MCP messages; GET and DELETE answer 405 (this server
    /// keeps no sessions and offers no server-to-client stream).
    func register(on router: Router<ServiceRequestContext>) {
        for method in [HTTPRequest.Method.post, .get, .delete] {
            router.on("/mcp", method: method) { request, _ in try await self.respond(to: request) }
        }
    }

    func respond(to request: Request) async throws -> Response {
        guard let serviceURL = loopback.withLock({ $0 }) else { throw NotListening() }
        var body: Data?
        if request.method == .post {
            do {
                body = Data(try await request.body.collect(upTo: BodyLimitMiddleware<ServiceRequestContext>.sqlLimit).readableBytesView)
            } catch {
                throw BodyLimitMiddleware<ServiceRequestContext>.TooLarge(limit: BodyLimitMiddleware<ServiceRequestContext>.sqlLimit)
            }
        }
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { "\($0), \(field.value)" } ?? field.value
        }
        let key = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst("Bearer ".count)) : nil }
        var connection = try APIConnection(serviceURL: serviceURL, token: key, trusting: certificatePEM)
        // The tools' calls come from loopback; the API checks allowlists against the real client.
        connection.relayHeaders = [
            MCPRelay.keyHeader.rawName: MCPRelay.key, MCPRelay.addressHeader.rawName: RequestOrigin.clientAddress ?? "unknown",
        ]
        let server = BranchMCPServer(connection: connection, version: Engine.version)
        let answer = await MCPHTTPExchange.respond(to: .init(method: request.method.rawValue, headers: headers, body: body), with: server)
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return Response(
            status: HTTPResponse.Status(code: answer.status), headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    /// A request before the service listens: cannot happen through the network, only in tests
    /// that serve the router without a server.
    struct NotListening: ReportableError {
        var code: ErrorCode { .serviceStopping }
        var message: String { "The MCP endpoint is not serving yet." }
        var hint: String? { "Retry in a moment." }
    }
}
