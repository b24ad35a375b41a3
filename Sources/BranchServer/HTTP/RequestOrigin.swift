import Hummingbird

/// The scheme and address a request was sent to (`http://127.0.0.1:8420`), for answers that name
/// the service's own URLs (a project's data API base URL). The generated API handlers never see
/// the request itself, so a middleware hands it down as a task-local value.
enum RequestOrigin {
    @TaskLocal static var current: String?
    /// The client's address, for the audit log.
    @TaskLocal static var clientAddress: String?
}

struct RequestOriginMiddleware<Context: RequestContext & RemoteAddressRequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origin = request.head.authority.map { "\(request.head.scheme ?? "http")://\($0)" }
        return try await RequestOrigin.$current.withValue(origin) {
            try await RequestOrigin.$clientAddress.withValue(context.remoteAddress?.ipAddress) { try await next(request, context) }
        }
    }
}
