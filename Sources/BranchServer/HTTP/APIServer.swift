import BranchAPI
import BranchConsole
import BranchCore
package import BranchEngine
import Foundation
import Hummingbird
import HummingbirdCore
package import Logging
import NIOCore
import OpenAPIHummingbird
import OpenAPIRuntime
package import ServiceLifecycle

/// The HTTP face of the service: `/api/v1` (every operation of Sources/BranchAPI/openapi.json)
/// and `/metrics`, authenticated with the admin key, each project's data API under `/p/`, MCP at
/// `/mcp`, and the web console at every other path (signed in by its own session cookie).
package enum APIServer {
    /// The router serving `api` behind the service's middleware (errors, the admin key, the body
    /// limit); any implementation of the document, so tests can serve a stub without a pool.
    /// `engine`, when given, also serves every project's data API under `/p/`.
    static func router(
        api: some APIProtocol, adminKey: String, dataAPI engine: Engine? = nil, mcp: MCPEndpoint? = nil,
        transport: ServiceTransport = ServiceTransport(), console: Console? = nil
    ) throws -> Router<ServiceRequestContext> {
        let router = Router(context: ServiceRequestContext.self)
        if transport.tls { router.add(middleware: StrictTransportSecurityMiddleware()) }
        router.add(middleware: ErrorMiddleware())
        // First: the client's address (proxies, MCP relays) is what the data API's allowlist and
        // sign-in limits, and the management API's allowlist and audit, see.
        router.add(middleware: RequestOriginMiddleware(proxies: transport.proxies, tls: transport.tls))
        if let engine { router.add(middleware: DataAPIMiddleware(engine: engine)) }
        var projectKeyCheck: (@Sendable (String, String) async -> Bool)?
        if let engine {
            projectKeyCheck = { @Sendable token, project in
                do {
                    try await engine.projectKeys.requireServiceRoleKey(token, project: project)
                    return true
                } catch {
                    return false
                }
            }
        }
        let authenticate: (@Sendable (String) async throws -> Principal?)? = engine.map { engine in
            { @Sendable token in try await engine.identities.authenticate(token: token) }
        }
        router.add(middleware: AuthMiddleware(
            adminKey: adminKey, openPaths: ["/api/v1/health"], authenticate: authenticate, projectKeyCheck: projectKeyCheck))
        router.add(middleware: BodyLimitMiddleware())
        router.add(middleware: DocumentMiddleware())
        try api.registerHandlers(on: router, configuration: Configuration(jsonEncodingOptions: [.sortedKeys]), middlewares: [LenientRequests(), PermissionsMiddleware(engine: engine)])
        mcp?.register(on: router)
        console?.register(on: router)
        return router
    }

    /// The application serving the API on `host:port`; `onRunning` is called once it listens.
    /// `limits` bound slow and numerous clients (see `ConnectionGuard`).
    package static func application(
        engine: Engine, host: String, port: Int, limits: HTTPLimits = HTTPLimits(), transport: ServiceTransport = ServiceTransport(),
        logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void
    ) throws -> some Service {
        // With TLS, /mcp calls the service's own HTTPS port trusting exactly its certificate.
        let mcp = MCPEndpoint(certificatePEM: transport.certificate?.certificatePEM)
        let connections = ConnectionCounter(limit: limits.maxConnections)
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ConnectionGuard(limits: limits, counter: connections, tls: transport.tls)], idleTimeout: TimeAmount(limits.idleTimeout))
        let handlers = APIHandlers(engine: engine)
        let console = Console(gateway: ServiceConsoleGateway(engine: engine, api: handlers), secureCookies: transport.tls)
        let application = Application(
            router: try router(
                api: handlers, adminKey: engine.adminKey, dataAPI: engine, mcp: mcp, transport: transport, console: console),
            server: try transport.server(http1),
            configuration: .init(address: .hostname(host, port: port), serverName: "branch"),
            onServerRunning: { channel in
                mcp.serviceStarted(at: channel.localAddress)
                await onRunning(channel.localAddress?.port ?? port)
            },
            logger: logger)
        return BoundedShutdown(base: application, limit: shutdownGrace)
    }

    /// How long a stop waits for responses still being written (a slow client's diff or export).
    static let shutdownGrace: Duration = .seconds(5)
}

/// Keeps the engine for the life of the service group; on graceful shutdown (SIGTERM/SIGINT),
/// after the HTTP server has stopped, it stops every branch server and the pooler.
package struct EngineService: Service {
    let engine: Engine

    package init(engine: Engine) { self.engine = engine }

    package func run() async throws {
        try? await gracefulShutdown()
        await engine.shutdown()
    }
}

/// Serves `GET /api/v1/openapi.json` as the very text the service was built from (the generated
/// handler would decode and re-encode it).
struct DocumentMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get, request.uri.path == "/api/v1/openapi.json" else { return try await next(request, context) }
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: APIDocument.text)))
    }
}
