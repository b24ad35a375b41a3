import HTTPTypes
import Hummingbird

/// With TLS on, every answer says `Strict-Transport-Security: max-age=31536000`: a browser that
/// reached the service once over HTTPS refuses plain HTTP to it for a year, so a network attacker
/// cannot downgrade it. Outermost, so error answers carry it too.
struct StrictTransportSecurityMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.strictTransportSecurity] = StrictTransportSecurity.value
        return response
    }
}

/// The header's value, also sent by `ConnectionGuard`'s own answers (503, 408), which no
/// middleware sees.
enum StrictTransportSecurity {
    static let value = "max-age=31536000"
}
