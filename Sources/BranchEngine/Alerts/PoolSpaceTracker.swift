/// Which pool-space threshold was last crossed, as a pure state machine. Crossing one or more
/// thresholds upwards raises one alert (for the highest); a threshold counts as left only once
/// use falls `hysteresis` points below it, so use hovering around 80% alerts once, not every check.
struct PoolSpaceTracker: Sendable, Equatable {
    enum Change: Equatable {
        /// Use rose past this threshold (the highest crossed).
        case crossed(Int)
        /// Use fell back below every threshold it had crossed (down to `below`, or none: nil).
        case recovered(below: Int)
    }

    let thresholds: [Int]
    let hysteresis: Int
    /// The highest threshold crossed and not yet left.
    private(set) var level: Int?

    init(thresholds: [Int], hysteresis: Int) {
        self.thresholds = Array(Set(thresholds.filter { (1...100).contains($0) })).sorted()
        self.hysteresis = max(0, hysteresis)
    }

    /// The pool's use, in percent, as seen by one check.
    mutating func observe(usedPercent: Double) -> Change? {
        let reached = thresholds.last { usedPercent >= Double($0) }
        if let reached, reached > (level ?? Int.min) {
            level = reached
            return .crossed(reached)
        }
        guard let current = level, usedPercent < Double(current - hysteresis) else { return nil }
        // Left the current level: settle on the highest threshold still held with hysteresis.
        let held = thresholds.last { $0 < current && usedPercent >= Double($0 - hysteresis) }
        level = held
        return held == nil ? .recovered(below: current) : nil
    }
}

/// Whether a database grew past the share set for its project since its last backup.
enum SizeJump {
    static func exceeded(baseline: Int64, current: Int64, percent: Int) -> Bool {
        guard baseline > 0, current > baseline else { return false }
        return Double(current - baseline) / Double(baseline) * 100 > Double(percent)
    }
}
