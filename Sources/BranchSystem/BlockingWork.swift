import NIOPosix

/// Runs blocking system calls (ioctls, syncs, file scans, libpq's connect and ping) on threads of
/// their own, as Hummingbird's file I/O does, so they never hold one of Swift's cooperative
/// threads (there are as many as cores: two on a small VPS).
package enum BlockingWork {
    /// Eight threads: enough for a few long file scans and syncs at once without queueing short
    /// ioctls behind them; threads only exist while work waits.
    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 8)
        pool.start()
        return pool
    }()

    /// Runs `body` on a pool thread and returns its result. Cancelling the calling task does not
    /// interrupt `body` (a syscall cannot be); work not yet started when the task is cancelled
    /// still runs, so clean-up (deleting what an undone step made) happens in cancelled tasks too.
    package static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        // Not `runIfActive`: it drops work whose task was cancelled before a thread took it.
        try await withCheckedThrowingContinuation { continuation in
            pool.submit { state in
                guard case .active = state else {
                    continuation.resume(throwing: NIOThreadPoolError.ThreadPoolInactive())
                    return
                }
                continuation.resume(with: Result(catching: body))
            }
        }
    }
}
