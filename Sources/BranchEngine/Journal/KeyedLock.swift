/// Serializes work per key (one project at a time) without blocking threads; waiters are served
/// in arrival order.
actor KeyedLock {
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    func lock(_ key: String) async {
        if waiters[key] == nil {
            waiters[key] = []
            return
        }
        await withCheckedContinuation { continuation in waiters[key, default: []].append(continuation) }
    }

    func unlock(_ key: String) {
        guard var queue = waiters[key] else { return }
        if queue.isEmpty {
            waiters[key] = nil
        } else {
            let next = queue.removeFirst()
            waiters[key] = queue
            next.resume()
        }
    }

    func isLocked(_ key: String) -> Bool { waiters[key] != nil }

    /// How many wait for `key` behind its holder.
    func waiting(_ key: String) -> Int { waiters[key]?.count ?? 0 }

    /// Runs `body` holding the lock for `key`.
    nonisolated func withLock<T: Sendable>(_ key: String, _ body: () async throws -> T) async throws -> T {
        await lock(key)
        do {
            let result = try await body()
            await unlock(key)
            return result
        } catch {
            await unlock(key)
            throw error
        }
    }
}
