/// When a failed delivery is tried again: after `base`, then each delay `factor` times the one
/// before, at most `cap`, for `retries` retries (defaults: 2 s, 8 s, 32 s, 2 min 8 s, 8 min 32 s;
/// about 11 minutes in all). A channel down for longer loses that alert, logged.
package struct AlertBackoff: Sendable, Equatable {
    package var base: Duration
    package var factor: Int
    package var cap: Duration
    package var retries: Int

    package init(base: Duration = .seconds(2), factor: Int = 4, cap: Duration = .seconds(600), retries: Int = 5) {
        self.base = base
        self.factor = factor
        self.cap = cap
        self.retries = retries
    }

    /// The delay before each retry, in order.
    package var delays: [Duration] {
        var result: [Duration] = []
        var delay = base
        for _ in 0..<max(0, retries) {
            result.append(min(delay, cap))
            delay = delay * factor
        }
        return result
    }
}
