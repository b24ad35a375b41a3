import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A `text/event-stream` answer: `produce` gets a `send` function and runs until the client goes
/// away or it returns. A comment every 15 s finds a vanished client even when nothing happens;
/// then the producer is cancelled. The session is captured, so the producer calls the API as the
/// signed-in user, with their permissions, for as long as the stream lasts.
enum EventStream {
    typealias Send = @Sendable (_ event: String, _ data: String) async throws -> Void

    static func response(_ produce: @escaping @Sendable (Send) async throws -> Void) throws -> Response {
        let session = try ConsoleSession.required()
        let body = ResponseBody { writer in
            let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingNewest(256))
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await ConsoleSession.$current.withValue(session) {
                        try? await produce { event, data in
                            let lines = data.split(separator: "\n", omittingEmptySubsequences: false).map { "data: \($0)" }.joined(separator: "\n")
                            continuation.yield(ByteBuffer(string: "event: \(event)\n\(lines)\n\n"))
                        }
                    }
                    continuation.finish()
                }
                group.addTask {
                    while (try? await Task.sleep(for: .seconds(15))) != nil {
                        continuation.yield(ByteBuffer(string: ": ping\n\n"))
                    }
                }
                do {
                    try await writer.write(ByteBuffer(string: ": stream open\n\n"))
                    for await chunk in stream { try await writer.write(chunk) }
                } catch {}
                group.cancelAll()
            }
            try? await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: body)
    }
}
