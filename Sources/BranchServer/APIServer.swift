public import BranchEngine
import BranchAPI
import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle

/// The HTTP face of the service: `/api/v1`, authenticated with the admin key.
public enum APIServer {
    /// The router with every `APIRoute` registered; exposed for tests.
    static func router(engine: Engine) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(adminKey: engine.adminKey, openPaths: Set(APIRoute.all.filter { !$0.requiresAuth }.map(\.path))))
        let handlers = APIHandlers(engine: engine).all
        for route in APIRoute.all {
            guard let handler = handlers[route.operationID] else {
                preconditionFailure("no handler for \(route.operationID)")
            }
            let method: HTTPRequest.Method = switch route.method {
            case .get: .get
            case .post: .post
            case .put: .put
            case .patch: .patch
            case .delete: .delete
            }
            router.on(RouterPath(route.routerPath), method: method, use: handler)
        }
        return router
    }

    /// The application serving the API on `host:port`; `onRunning` is called once it listens.
    public static func application(
        engine: Engine, host: String, port: Int, logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        Application(
            router: router(engine: engine),
            configuration: .init(address: .hostname(host, port: port), serverName: "branch"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}

/// Keeps the engine for the life of the service group; on graceful shutdown (SIGTERM/SIGINT),
/// after the HTTP server has stopped, it stops every branch server and the pooler.
public struct EngineService: Service {
    let engine: Engine

    public init(engine: Engine) { self.engine = engine }

    public func run() async throws {
        try? await gracefulShutdown()
        await engine.shutdown()
    }
}
