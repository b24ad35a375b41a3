import BranchCatalog
import BranchCore
import BranchPostgres
public import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// Everything `branch serve` can be told.
public struct EngineConfiguration: Sendable {
    /// The pool directory (on Btrfs, or empty so an image can be mounted there).
    public var pool: String = "/var/lib/branch"
    /// Image file used when the pool is not on Btrfs (default `<pool>.img`).
    public var poolImage: String?
    /// Size of a newly created pool image.
    public var poolSize: UInt64 = 20 << 30
    /// PgBouncer's port: the stable endpoint of every project.
    public var poolerPort: Int = 6432
    /// Addresses Postgres servers and PgBouncer listen on.
    public var listenAddress: String = "*"
    /// The host name put in connection URLs.
    public var publicHost: String = "127.0.0.1"
    /// Ports given to branch servers.
    public var portRange: ClosedRange<Int> = 54400...55399
    /// Postgres bin directory; discovered with pg_config when nil.
    public var postgresBinDirectory: String?
    /// Operations that write refuse to start with less free space than this in the pool.
    public var freeSpaceReserve: UInt64 = 64 << 20
    /// How long a branch server may take to accept connections after a start.
    public var startTimeout: Duration = .seconds(60)
    /// How long a point-in-time recovery may replay WAL.
    public var recoveryTimeout: Duration = .seconds(3600)
    /// Days of history kept for point-in-time recovery when a project sets none.
    public var retentionDays: Int = 7
    /// Where backups go: `dir:/path` or `s3://bucket/prefix?…` (default: `<pool>.backups`).
    public var backupTarget: String?
    /// The backup key file (else `BRANCH_BACKUP_KEY` in `environment`).
    public var backupKeyFile: String?
    /// The service's environment, for the backup key and S3 credentials.
    public var environment: [String: String] = [:]
    /// Incremental backups in a chain before the next one is full again.
    public var maxIncrementals: Int = 6
    /// How branch servers run: podman, docker or plain processes (`auto` tries them in that order).
    public var runtime: RuntimePreference = .auto
    /// Container names are `<prefix>-<project>-<branch>`.
    public var containerPrefix: String = "branch"
    /// Default idle time before a branch other than main is suspended, for projects that do not
    /// set their own (0: never).
    public var suspendAfter: Int = 15 * 60
    /// Each branch server's log files are rotated at this size and at most `logFiles` are kept.
    public var logRotationSize: UInt64 = 10 << 20
    public var logFiles: Int = 5
    /// How often the supervisor checks servers, and metrics are sampled.
    public var supervisorInterval: Duration = .seconds(1)
    public var metricsInterval: Duration = .seconds(5)

    public init() {}
}
