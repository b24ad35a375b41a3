/// Measures how long an async step takes.
package struct Stopwatch: Sendable {
    private let start = ContinuousClock.now

    package init() {}

    package var elapsed: Duration { ContinuousClock.now - start }

    /// Elapsed milliseconds, rounded to 0.1.
    package var milliseconds: Double {
        let components = elapsed.components
        let ms = Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
        return (ms * 10).rounded() / 10
    }
}
