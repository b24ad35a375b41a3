/// Measures how long an async step takes.
public struct Stopwatch: Sendable {
    private let start = ContinuousClock.now

    public init() {}

    public var elapsed: Duration { ContinuousClock.now - start }

    /// Elapsed milliseconds, rounded to 0.1.
    public var milliseconds: Double {
        let components = elapsed.components
        let ms = Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
        return (ms * 10).rounded() / 10
    }
}
