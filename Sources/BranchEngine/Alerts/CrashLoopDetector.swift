import Foundation
import Synchronization

/// Decides when a branch server is crash-looping, as a pure state machine: `count` failures (a
/// crash, or a restart that failed) within `window` make one alert; the next comes only after
/// the branch has gone a whole window without failing.
struct CrashLoopDetector: Sendable {
    let count: Int
    let window: TimeInterval
    private var failures: [String: [Date]] = [:]
    private var alerted: Set<String> = []

    init(count: Int, window: TimeInterval) {
        self.count = max(1, count)
        self.window = window
    }

    /// Records a failure of `branch` at `now`; returns how many there were in the window when
    /// this one starts a crash loop (alert), nil otherwise.
    mutating func failed(_ branch: String, at now: Date) -> Int? {
        var recent = (failures[branch] ?? []).filter { now.timeIntervalSince($0) < window }
        if recent.isEmpty { alerted.remove(branch) }
        recent.append(now)
        failures[branch] = recent
        guard recent.count >= count, !alerted.contains(branch) else { return nil }
        alerted.insert(branch)
        return recent.count
    }
}

/// The alert sources' memory shared across the engine (the supervisor's events arrive through
/// `EngineContext.record`, from its loop).
final class AlertState: Sendable {
    private let crashLoops: Mutex<CrashLoopDetector?> = Mutex(nil)

    func crashLoopFailure(_ branch: String, at now: Date, configuration: AlertConfiguration) -> Int? {
        crashLoops.withLock { detector in
            var current = detector ?? CrashLoopDetector(count: configuration.crashLoopCount, window: configuration.crashLoopWindow.seconds)
            defer { detector = current }
            return current.failed(branch, at: now)
        }
    }
}
