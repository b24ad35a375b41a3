package import Foundation

/// A project made, with how to reach it.
package struct ProjectCreation: Sendable {
    package var project: ProjectView
    package var connection: ConnectionDetails
    package var keys: ProjectAPIKeys
    package var operation: OperationTiming
}

/// A project's data API keys: the long-lived anon and service_role JWTs signed with its secret,
/// and the path of its data API under the service's address (`/p/<project>`).
package struct ProjectAPIKeys: Sendable, Equatable {
    package var project: String
    package var path: String
    package var anonKey: String
    package var serviceRoleKey: String
    /// When the keys were signed (their `iat`): the project's creation or its last rotation.
    package var issuedAt: Date
}

/// A project's JWT secret replaced, and the keys signed with the new one.
package struct KeyRotation: Sendable {
    package var keys: ProjectAPIKeys
    package var operation: OperationTiming
}

/// A project's settings changed, and the running branches restarted to apply them.
package struct ProjectUpdate: Sendable {
    package var project: ProjectView
    package var restarted: [String]
    package var operation: OperationTiming
}

/// A branch after an operation; `replacedState` is the snapshot an in-place change kept of what it replaced.
package struct BranchChange: Sendable {
    package var branch: BranchView
    package var replacedState: SnapshotView?
    package var operation: OperationTiming
}

/// A snapshot taken.
package struct SnapshotCreation: Sendable {
    package var snapshot: SnapshotView
    package var operation: OperationTiming
}

/// What was deleted.
package struct Deletion: Sendable {
    package var deleted: [String]
    package var operation: OperationTiming
}

/// The pooled endpoint moved.
package struct CheckoutChange: Sendable {
    package var project: String
    package var previous: String
    package var checkedOut: String
    package var operation: OperationTiming
}

/// What a project's limits and scale-to-zero settings become. In an update, an absent value is
/// left as it is and 0 removes a limit (or turns suspension off); -1 returns a suspension delay
/// to the service default.
package struct ProjectSettings: Sendable, Equatable {
    package var memoryBytes: UInt64?
    package var cpus: Double?
    package var maxConnections: Int?
    package var suspendAfterSeconds: Int?
    package var suspendMainAfterSeconds: Int?
    package var retentionDays: Int?
    /// The networks (CIDRs) the project's clients may come from; empty opens it to every address.
    package var allowlist: [String]?
    /// Branch defaults: the time to live of new branches (0: none), and whether they start protected.
    package var newBranchTtlSeconds: Int?
    package var protectNewBranches: Bool?

    package init(
        memoryBytes: UInt64? = nil, cpus: Double? = nil, maxConnections: Int? = nil, suspendAfterSeconds: Int? = nil,
        suspendMainAfterSeconds: Int? = nil, retentionDays: Int? = nil, allowlist: [String]? = nil,
        newBranchTtlSeconds: Int? = nil, protectNewBranches: Bool? = nil
    ) {
        self.allowlist = allowlist
        self.newBranchTtlSeconds = newBranchTtlSeconds
        self.protectNewBranches = protectNewBranches
        self.memoryBytes = memoryBytes
        self.cpus = cpus
        self.maxConnections = maxConnections
        self.suspendAfterSeconds = suspendAfterSeconds
        self.suspendMainAfterSeconds = suspendMainAfterSeconds
        self.retentionDays = retentionDays
    }
}

/// A schedule to set; absent retention values keep their current (or default) values.
package struct ScheduleChange: Sendable {
    package var expression: String
    package var enabled: Bool?
    package var keepLast: Int?
    package var hourly: Int?
    package var daily: Int?
    package var weekly: Int?
    package var monthly: Int?
    package var webhookURL: String?
    package var webhookSlack: Bool?

    package init(
        expression: String, enabled: Bool? = nil, keepLast: Int? = nil, hourly: Int? = nil, daily: Int? = nil, weekly: Int? = nil,
        monthly: Int? = nil, webhookURL: String? = nil, webhookSlack: Bool? = nil
    ) {
        self.expression = expression
        self.enabled = enabled
        self.keepLast = keepLast
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.webhookURL = webhookURL
        self.webhookSlack = webhookSlack
    }
}
