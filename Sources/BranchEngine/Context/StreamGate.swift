import Synchronization

/// Open streams (log follows, diffs, exports) end when the service begins to shut down, so the
/// HTTP server's graceful shutdown is not held up by a client that reads slowly, or not at all.
/// A stream polls `isClosed` between pieces, or registers what stops it with `onClose`.
final class StreamGate: Sendable {
    private struct State {
        var closed = false
        var nextToken = 0
        var actions: [Int: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Runs `action` when the gate closes, or now if it is closed; `remove(_:)` with the token
    /// takes it back (nil: it ran already).
    func onClose(_ action: @escaping @Sendable () -> Void) -> Int? {
        let token: Int? = state.withLock { state in
            guard !state.closed else { return nil }
            state.nextToken += 1
            state.actions[state.nextToken] = action
            return state.nextToken
        }
        if token == nil { action() }
        return token
    }

    func remove(_ token: Int?) {
        guard let token else { return }
        _ = state.withLock { $0.actions.removeValue(forKey: token) }
    }

    func close() {
        let actions = state.withLock { state -> [@Sendable () -> Void] in
            state.closed = true
            defer { state.actions = [:] }
            return Array(state.actions.values)
        }
        for action in actions { action() }
    }
}
