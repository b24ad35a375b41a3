import HTTPTypes
import Hummingbird

/// Adds `Server-Timing: app;dur=MS` to every console page: the server's time for the page (the
/// session lookup, the API calls and the rendering), visible in a browser's network panel and
/// what the 50 ms page budget is measured by.
struct ServerTimingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var response = try await next(request, context)
        response.headers[ServerTiming.header] = "app;dur=\(ServerTiming.milliseconds(ContinuousClock.now - started))"
        return response
    }
}

enum ServerTiming {
    static let header = HTTPField.Name("Server-Timing")!

    /// Milliseconds rounded to one decimal, as Server-Timing's `dur` reads them.
    static func milliseconds(_ duration: Duration) -> String {
        let hundredths = duration.components.seconds * 100_000 + duration.components.attoseconds / 10_000_000_000_000
        let tenths = (hundredths + 5) / 10
        return "\(tenths / 10).\(tenths % 10)"
    }
}
