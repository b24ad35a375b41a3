import Dispatch
import Synchronization

/// Flushes the pool in the background while a large write goes on (a restore's `btrfs receive`).
///
/// The kernel starts writing dirty pages back only past `dirty_background_ratio` of memory (gigabytes
/// on a VPS) or after 30 s, so without this a restore of a few GB lands entirely in the page cache and
/// the whole flush falls on whatever syncs next (the restored Postgres's start-up sync), after the
/// stream instead of during it. A flush starts every `interval` bytes written; one runs at a time, and
/// a flush due while one runs is skipped.
package final class WriteBack: Sendable {
    private let storage: PoolStorage
    private let interval: Int
    /// Bytes written since the last flush started, and whether one is running.
    private let state = Mutex((unflushed: 0, running: false))
    private let group = DispatchGroup()

    package init(_ storage: PoolStorage, every interval: Int) {
        self.storage = storage
        self.interval = interval
    }

    /// Counts `count` more bytes written; starts a flush on a Dispatch thread when `interval`
    /// bytes have accumulated and none is running (a global queue's thread, not one of Swift's
    /// cooperative threads: the flush blocks it for as long as the disk takes).
    package func wrote(_ count: Int) {
        let start = state.withLock { state in
            state.unflushed += count
            guard state.unflushed >= interval else { return false }
            state.unflushed = 0
            if state.running { return false }
            state.running = true
            return true
        }
        guard start else { return }
        group.enter()
        DispatchQueue.global().async { [self] in
            try? storage.syncOnThisThread()
            state.withLock { $0.running = false }
            group.leave()
        }
    }

    /// Waits for the running flush, then flushes what is left: everything written before the call
    /// is on disk when it returns.
    package func finish() async throws(StorageError) {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            group.notify(queue: .global()) { continuation.resume() }
        }
        try await storage.sync()
    }
}
