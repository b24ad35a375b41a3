import BranchCore
package import Foundation

/// How many failed password sign-ins are allowed, and over how long.
package struct SignInLimits: Sendable, Equatable {
    /// Failures per email address within `window`.
    package var perEmail: Int
    /// Failures per client address within `window`.
    package var perAddress: Int
    /// The sliding window, in seconds.
    package var window: TimeInterval
    /// How many emails and addresses are tracked at most (memory bound); the stalest are forgotten first.
    package var maximumTrackedKeys: Int

    package init(perEmail: Int = 10, perAddress: Int = 30, window: TimeInterval = 300, maximumTrackedKeys: Int = 100_000) {
        self.perEmail = perEmail
        self.perAddress = perAddress
        self.window = window
        self.maximumTrackedKeys = maximumTrackedKeys
    }
}

/// The decisions of the sign-in limiter, without time passing or concurrency: failure times per
/// email and per client address in a sliding window. A sign-in is refused while either has reached
/// its limit within the window; a successful sign-in clears its email's failures (not its address's).
package struct SignInFailureLog: Sendable {
    /// What is counted: an email (lower-cased) or a client address, each within a scope (the project).
    package enum Key: Hashable, Sendable {
        case email(scope: String, String)
        case address(scope: String, String)
    }

    package let limits: SignInLimits
    /// Failure times per key, oldest first, at most the key's limit of them (older ones cannot matter).
    private var failures: [Key: [Date]] = [:]

    package init(limits: SignInLimits = SignInLimits()) {
        self.limits = limits
    }

    /// Whether a sign-in for `email` from `address` may be attempted at `now`.
    package func allows(scope: String, email: String, address: String?, now: Date) -> Bool {
        keys(scope: scope, email: email, address: address).allSatisfy { key in
            recentFailures(key, now: now) < limit(key)
        }
    }

    /// Counts a failed sign-in.
    package mutating func recordFailure(scope: String, email: String, address: String?, now: Date) {
        for key in keys(scope: scope, email: email, address: address) {
            var times = failures[key, default: []].filter { now.timeIntervalSince($0) < limits.window }
            times.append(now)
            failures[key] = Array(times.suffix(limit(key)))
        }
        if failures.count > limits.maximumTrackedKeys { forgetStalest(now: now) }
    }

    /// A successful sign-in: its email starts afresh.
    package mutating func recordSuccess(scope: String, email: String) {
        failures[.email(scope: scope, email.lowercased())] = nil
    }

    /// Failures of `key` within the window ending at `now`.
    package func recentFailures(_ key: Key, now: Date) -> Int {
        failures[key, default: []].count { now.timeIntervalSince($0) < limits.window }
    }

    /// How many keys are tracked.
    package var trackedKeys: Int { failures.count }

    /// The keys one attempt counts against.
    private func keys(scope: String, email: String, address: String?) -> [Key] {
        [.email(scope: scope, email.lowercased())] + (address.map { [.address(scope: scope, IPNetwork.limitKey($0))] } ?? [])
    }

    /// The failures `key` may have within the window.
    private func limit(_ key: Key) -> Int {
        switch key {
        case .email: max(limits.perEmail, 1)
        case .address: max(limits.perAddress, 1)
        }
    }

    /// Drops keys whose failures have all left the window, then, if still too many, those whose
    /// latest failure is oldest.
    private mutating func forgetStalest(now: Date) {
        failures = failures.filter { _, times in times.last.map { now.timeIntervalSince($0) < limits.window } ?? false }
        let excess = failures.count - limits.maximumTrackedKeys
        guard excess > 0 else { return }
        let stalest = failures.sorted { ($0.value.last ?? .distantPast) < ($1.value.last ?? .distantPast) }.prefix(excess)
        for (key, _) in stalest { failures[key] = nil }
    }
}

/// Failed password sign-ins per email and per client address, shared by a server's auth endpoints:
/// past the limits, sign-ins are refused with 429 `over_request_rate_limit` before any password is checked.
package actor SignInLimiter {
    private var log: SignInFailureLog

    package init(limits: SignInLimits = SignInLimits()) {
        log = SignInFailureLog(limits: limits)
    }

    /// Whether a sign-in may be attempted now.
    package func allows(scope: String, email: String, address: String?, now: Date) -> Bool {
        log.allows(scope: scope, email: email, address: address, now: now)
    }

    /// Counts a failed sign-in.
    package func recordFailure(scope: String, email: String, address: String?, now: Date) {
        log.recordFailure(scope: scope, email: email, address: address, now: now)
    }

    /// Clears the email's failures after a successful sign-in.
    package func recordSuccess(scope: String, email: String) {
        log.recordSuccess(scope: scope, email: email)
    }
}
