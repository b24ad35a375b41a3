import Foundation
import Logging
import MCP

/// A transport that, when its input ends, still answers the requests already received before it
/// reports the end: the SDK's server stops at the end of input, and a client that writes its
/// requests and closes stdin (`printf … | branch mcp`) would otherwise get no answers. It waits
/// until every request has an answer, was cancelled, or `grace` has passed.
actor DrainingTransport: Transport {
    nonisolated let logger: Logger
    private let base: any Transport
    private var upstream: AsyncThrowingStream<Data, any Error>.Iterator
    /// Ids of the requests received and not yet answered, as JSON text.
    private var unanswered: Set<String> = []
    private let grace: Duration

    init(base: some Transport, logger: Logger, grace: Duration = .seconds(600)) async {
        self.base = base
        self.logger = logger
        self.upstream = await base.receive().makeAsyncIterator()
        self.grace = grace
    }

    func connect() async throws { try await base.connect() }

    func disconnect() async { await base.disconnect() }

    func send(_ data: Data) async throws {
        try await base.send(data)
        if let message = Message(data), message.method == nil, let id = message.id { unanswered.remove(id) }
    }

    nonisolated func receive() -> AsyncThrowingStream<Data, any Error> {
        AsyncThrowingStream { try await self.next() }
    }

    /// The next message from the base transport; at its end, nil once nothing is left unanswered.
    private func next() async throws -> Data? {
        var iterator = upstream
        let data = try await iterator.next(isolation: self)
        upstream = iterator
        guard let data else {
            let deadline = ContinuousClock.now + grace
            while !unanswered.isEmpty, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
            return nil
        }
        if let message = Message(data) {
            if message.method != nil, let id = message.id { unanswered.insert(id) }
            // A cancelled request gets no answer (MCP): nothing to wait for.
            if message.method == "notifications/cancelled", let id = message.cancelledID { unanswered.remove(id) }
        }
        return data
    }

    /// The fields of a JSON-RPC message that say whether it is a request, a response or a
    /// cancellation, with ids as JSON text (`1`, `"a"`) so numbers and strings never meet.
    struct Message {
        let id: String?
        let method: String?
        let cancelledID: String?

        init?(_ data: Data) {
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            id = Self.text(object["id"])
            method = object["method"] as? String
            cancelledID = Self.text((object["params"] as? [String: Any])?["requestId"])
        }

        static func text(_ value: Any?) -> String? {
            switch value {
            case let string as String: return "\"\(string)\""
            case let number as NSNumber: return number.stringValue
            default: return nil
            }
        }
    }
}
