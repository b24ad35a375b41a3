import Dispatch
import Foundation

/// Flushes the pool in the background while a large write goes on (a restore's `btrfs receive`).
///
/// The kernel starts writing dirty pages back only past `dirty_background_ratio` of memory (gigabytes
/// on a VPS) or after 30 s, so without this a restore of a few GB lands entirely in the page cache and
/// the whole flush falls on whatever syncs next (the restored Postgres's start-up sync), after the
/// stream instead of during it. One flush runs at a time; `kick` while one runs does nothing.
public final class WriteBack: Sendable {
    private let storage: PoolStorage
    private let state = Mutex()
    private let group = DispatchGroup()

    public init(_ storage: PoolStorage) {
        self.storage = storage
    }

    /// Starts a flush on a Dispatch thread unless one is already running.
    public func kick() {
        guard state.begin() else { return }
        group.enter()
        DispatchQueue.global().async { [storage, state, group] in
            try? storage.sync()
            state.end()
            group.leave()
        }
    }

    /// Waits for the running flush, then flushes what is left: everything written before the call
    /// is on disk when it returns.
    public func finish() async throws(StorageError) {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            group.notify(queue: .global()) { continuation.resume() }
        }
        try storage.sync()
    }

    /// Whether a flush is running.
    private final class Mutex: @unchecked Sendable {
        private let lock = NSLock()
        private var running = false

        func begin() -> Bool {
            lock.lock()
            defer { lock.unlock() }
            if running { return false }
            running = true
            return true
        }

        func end() {
            lock.lock()
            running = false
            lock.unlock()
        }
    }
}
