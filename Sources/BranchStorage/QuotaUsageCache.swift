import Foundation
import Synchronization

/// The pool's last Btrfs quota reading, reused for `maximumAge`.
///
/// Reading every qgroup walks the quota tree under a kernel lock; pages that show the size of
/// each of many projects would otherwise read it once per project. A size shown up to a second
/// late is fine: Btrfs itself only updates these numbers when a transaction commits. Changes made
/// through `PoolStorage` (new, deleted or exchanged subvolumes, syncs) drop the reading at once.
package final class QuotaUsageCache<Usage: Sendable>: Sendable {
    private let maximumAge: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    /// The reading, when it was taken, and a generation that `invalidate` bumps so a reading
    /// started before a change is never stored after it.
    private let state = Mutex<(usage: Usage?, takenAt: ContinuousClock.Instant?, generation: Int)>((nil, nil, 0))

    package init(maximumAge: Duration = .seconds(1), now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.maximumAge = maximumAge
        self.now = now
    }

    /// The cached reading while it is fresh, else `read()`'s (nil readings are not kept).
    package func usage(_ read: () -> Usage?) -> Usage? {
        let (cached, generation) = state.withLock { state -> (Usage?, Int) in
            guard let usage = state.usage, let takenAt = state.takenAt, now() - takenAt < maximumAge else { return (nil, state.generation) }
            return (usage, state.generation)
        }
        if let cached { return cached }
        let takenAt = now()
        guard let fresh = read() else { return nil }
        state.withLock { state in
            if state.generation == generation { state = (fresh, takenAt, generation) }
        }
        return fresh
    }

    /// Forgets the reading: the next `usage` reads again.
    package func invalidate() {
        state.withLock { state in state = (nil, nil, state.generation + 1) }
    }
}
