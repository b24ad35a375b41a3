import HTTPTypes
import Hummingbird
import Synchronization

/// Adds `Server-Timing` to every console page: each API call the page made (`listBranches;dur=3.1`,
/// in the order they ended) and last `app;dur=MS`, the server's whole time for the page (the session
/// lookup, the API calls and the rendering). A browser's network panel shows them; the 50 ms page
/// budget is measured by `app`, and the calls say where a slow page spends it.
struct ServerTimingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let record = ServerTiming.Record()
        var response = try await ServerTiming.Record.$current.withValue(record) { try await next(request, context) }
        let calls = record.entries.map { "\($0.name);dur=\(ServerTiming.milliseconds($0.duration))" }
        response.headers[ServerTiming.header] = (calls + ["app;dur=\(ServerTiming.milliseconds(ContinuousClock.now - started))"])
            .joined(separator: ", ")
        return response
    }
}

enum ServerTiming {
    static let header = HTTPField.Name("Server-Timing")!

    /// The calls one page made, and how long each took (child tasks of the page record into it too).
    final class Record: Sendable {
        @TaskLocal static var current: Record?
        private let calls = Mutex<[(name: String, duration: Duration)]>([])

        var entries: [(name: String, duration: Duration)] { calls.withLock { $0 } }

        func add(_ name: String, _ duration: Duration) {
            // A metric name is an HTTP token: the operation IDs are, but keep the header valid regardless.
            let token = String(name.unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) })
            calls.withLock { $0.append((token.isEmpty ? "call" : token, duration)) }
        }
    }

    /// Runs `body` and records its time under `name` in the current page's record, if any.
    static func measure<T>(_ name: String, _ body: () async throws -> T) async rethrows -> T {
        guard let record = Record.current else { return try await body() }
        let started = ContinuousClock.now
        defer { record.add(name, ContinuousClock.now - started) }
        return try await body()
    }

    /// Milliseconds rounded to one decimal, as Server-Timing's `dur` reads them.
    static func milliseconds(_ duration: Duration) -> String {
        let hundredths = duration.components.seconds * 100_000 + duration.components.attoseconds / 10_000_000_000_000
        let tenths = (hundredths + 5) / 10
        return "\(tenths / 10).\(tenths % 10)"
    }
}
