package import Foundation

/// Something an operator should hear about without looking: what the alert channels deliver
/// (see docs/operations.md). Parts of the engine raise these with `EngineContext.alert(_:)`.
package struct AlertEvent: Sendable, Equatable {
    package enum Kind: String, Sendable, CaseIterable {
        case backupFailed = "backup_failed"
        case backupSucceeded = "backup_succeeded"
        case verificationFailed = "verification_failed"
        case verificationSucceeded = "verification_succeeded"
        case poolSpace = "pool_space"
        case crashLoop = "crash_loop"
        case upgrade
        case certificateExpiry = "certificate_expiry"
        case sizeJump = "size_jump"
        case mirrorLag = "mirror_lag"
        case test
    }

    package enum Severity: String, Sendable, Comparable {
        case info, warning, critical

        package static func < (lhs: Severity, rhs: Severity) -> Bool {
            let order: [Severity] = [.info, .warning, .critical]
            return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
        }
    }

    package var kind: Kind
    package var severity: Severity
    /// The project it concerns; nil for the instance (pool space, an upgrade, the certificate).
    package var project: String?
    package var branch: String?
    /// One line: what happened ("Backup of myapp failed").
    package var title: String
    /// What to know and do next.
    package var detail: String
    package var at: Date

    /// Good news (a backup or verification that worked, an upgrade that went through): only
    /// delivered to channels that opted in with `--include-success`. A test is always delivered.
    package var isSuccess: Bool { severity == .info && kind != .test }

    package init(
        _ kind: Kind, severity: Severity, project: String? = nil, branch: String? = nil, title: String, detail: String,
        at: Date = Date()
    ) {
        self.kind = kind
        self.severity = severity
        self.project = project
        self.branch = branch
        self.title = title
        self.detail = detail
        self.at = at
    }
}
