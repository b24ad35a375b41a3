import Foundation

/// A project made, with how to reach it.
public struct ProjectCreation: Sendable {
    public var project: ProjectView
    public var connection: ConnectionDetails
    public var operation: OperationTiming
}

/// A project's settings changed, and the running branches restarted to apply them.
public struct ProjectUpdate: Sendable {
    public var project: ProjectView
    public var restarted: [String]
    public var operation: OperationTiming
}

/// A branch after an operation; `replacedState` is the snapshot an in-place change kept of what it replaced.
public struct BranchChange: Sendable {
    public var branch: BranchView
    public var replacedState: SnapshotView?
    public var operation: OperationTiming
}

/// A snapshot taken.
public struct SnapshotCreation: Sendable {
    public var snapshot: SnapshotView
    public var operation: OperationTiming
}

/// What was deleted.
public struct Deletion: Sendable {
    public var deleted: [String]
    public var operation: OperationTiming
}

/// The pooled endpoint moved.
public struct CheckoutChange: Sendable {
    public var project: String
    public var previous: String
    public var checkedOut: String
    public var operation: OperationTiming
}

/// What a project's limits and scale-to-zero settings become. In an update, an absent value is
/// left as it is and 0 removes a limit (or turns suspension off); -1 returns a suspension delay
/// to the service default.
public struct ProjectSettings: Sendable, Equatable {
    public var memoryBytes: UInt64?
    public var cpus: Double?
    public var maxConnections: Int?
    public var suspendAfterSeconds: Int?
    public var suspendMainAfterSeconds: Int?
    public var retentionDays: Int?

    public init(
        memoryBytes: UInt64? = nil, cpus: Double? = nil, maxConnections: Int? = nil, suspendAfterSeconds: Int? = nil,
        suspendMainAfterSeconds: Int? = nil, retentionDays: Int? = nil
    ) {
        self.memoryBytes = memoryBytes
        self.cpus = cpus
        self.maxConnections = maxConnections
        self.suspendAfterSeconds = suspendAfterSeconds
        self.suspendMainAfterSeconds = suspendMainAfterSeconds
        self.retentionDays = retentionDays
    }
}

/// A schedule to set; absent retention values keep their current (or default) values.
public struct ScheduleChange: Sendable {
    public var expression: String
    public var enabled: Bool?
    public var keepLast: Int?
    public var hourly: Int?
    public var daily: Int?
    public var weekly: Int?
    public var monthly: Int?
    public var webhookURL: String?
    public var webhookSlack: Bool?

    public init(
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
