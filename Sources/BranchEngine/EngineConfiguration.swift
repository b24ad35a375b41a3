import BranchCatalog
import BranchCore
import BranchPostgres
package import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// Everything `branch serve` can be told.
package struct EngineConfiguration: Sendable {
    /// The pool directory (on Btrfs, or empty so an image can be mounted there).
    package var pool: String = "/var/lib/branch"
    /// Image file used when the pool is not on Btrfs (default `<pool>.img`).
    package var poolImage: String?
    /// Size of a newly created pool image.
    package var poolSize: UInt64 = 20 << 30
    /// PgBouncer's port: the stable endpoint of every project.
    package var poolerPort: Int = 6432
    /// Addresses branch servers listen on (besides their socket directories): loopback unless
    /// `--db-listen` opens them; clients from elsewhere come through the pooler.
    package var listenAddress: String = EngineConfiguration.loopbackAddresses
    /// Addresses PgBouncer listens on: with the API's, the one port that faces the network.
    package var poolerListenAddress: String = "*"
    /// The host name put in connection URLs.
    package var publicHost: String = "127.0.0.1"
    /// The service's own address as clients reach it (`https://PUBLIC-HOST:PORT`): the start of
    /// links in auth mail unless a project sets another.
    package var publicURL: String = "http://127.0.0.1:8420"
    /// The certificate the pooler requires TCP clients to use TLS with (nil: plain TCP). Pooled
    /// URLs then ask for `sslmode=require`.
    package var tls: ServiceCertificate?
    /// Ports given to branch servers.
    package var portRange: ClosedRange<Int> = 54400...55399
    /// Postgres bin directory; discovered with pg_config when nil.
    package var postgresBinDirectory: String?
    /// Operations that grow the pool refuse to start with less free space than this in the pool;
    /// deletes, reads and restores that replace data still run. Resolved by `Engine.open` from
    /// `freeSpaceReserveSetting` and the pool's size.
    package var freeSpaceReserve: UInt64 = 64 << 20
    /// How often each mirror's lag and its source's schema are checked.
    package var mirrorCheckInterval: Duration = .seconds(5)
    /// A mirror further behind its source than this (bytes of the source's WAL) raises `mirror_lag`.
    package var mirrorLagAlertBytes: Int64 = 64 << 20
    /// `--free-space-reserve`; nil: `automaticFreeSpaceReserve(poolBytes:)`.
    package var freeSpaceReserveSetting: UInt64?
    /// Pre-pay (PrePayService, `--prepay-threshold`): the pool is synced each time a running branch
    /// has written this much WAL since the last sync (0: never pre-pay); a branch whose writes
    /// stopped is checkpointed from `prePayQuietThreshold` written since its last checkpoint.
    /// Readings every `prePayInterval`.
    package var prePayThreshold: UInt64 = 64 << 20
    package var prePayQuietThreshold: UInt64 = 32 << 20
    package var prePayInterval: Duration = .seconds(1)
    /// How long a branch server may take to accept connections after a start.
    package var startTimeout: Duration = .seconds(60)
    /// How long a point-in-time recovery may replay WAL.
    package var recoveryTimeout: Duration = .seconds(3600)
    /// Days of history kept for point-in-time recovery when a project sets none.
    package var retentionDays: Int = 7
    /// Where backups go: `dir:/path` or `s3://bucket/prefix?…` (default: `<pool>.backups`).
    package var backupTarget: String?
    /// The backup key file (else `BRANCH_BACKUP_KEY` in `environment`).
    package var backupKeyFile: String?
    /// The master key file the catalog's secrets are sealed with (made at the first start when missing).
    package var masterKeyFile: String = MasterKey.defaultPath
    /// The service's environment, for the backup key and S3 credentials.
    package var environment: [String: String] = [:]
    /// Whether a new project gets the daily backup schedule (`--no-default-backups` turns it off).
    package var defaultBackups: Bool = true
    /// How often the newest backup of each project is restored into a scratch server and checked
    /// (nil: never; `--verify-interval`).
    package var verifyInterval: Duration? = .seconds(7 * 86_400)
    /// Incremental backups in a chain before the next one is full again.
    package var maxIncrementals: Int = 6
    /// How branch servers run: podman, docker or plain processes (`auto` tries them in that order).
    package var runtime: RuntimePreference = .auto
    /// Container names are `<prefix>-<project>-<branch>`.
    package var containerPrefix: String = "branch"
    /// Default idle time before a branch other than main is suspended, for projects that do not
    /// set their own (0: never).
    package var suspendAfter: Int = 15 * 60
    /// Days the audit log keeps its entries.
    package var auditRetentionDays: Int = 365
    /// Each branch server's log files are rotated at this size and at most `logFiles` are kept.
    package var logRotationSize: UInt64 = 10 << 20
    package var logFiles: Int = 5
    /// How often the supervisor checks servers, and metrics are sampled.
    package var supervisorInterval: Duration = .seconds(1)
    package var metricsInterval: Duration = .seconds(5)
    /// Alert sources and deliveries (thresholds, check interval, retries).
    package var alerts = AlertConfiguration()

    package init() {}

    /// 1 GiB: room for the WAL, logs and catalog writes of what already runs while the operator
    /// frees space; a pool smaller than 10 GiB keeps a tenth of its size instead.
    package static func automaticFreeSpaceReserve(poolBytes: UInt64) -> UInt64 {
        poolBytes == 0 ? 1 << 30 : min(1 << 30, poolBytes / 10)
    }

    /// `127.0.0.1`, and `::1` when the machine has IPv6 loopback (Postgres refuses to start if
    /// none of its addresses can be bound, and logs each one it cannot).
    package static var loopbackAddresses: String {
        let ipv6 = (try? String(contentsOfFile: "/proc/net/if_inet6", encoding: .utf8))?
            .split(separator: "\n").contains { $0.hasPrefix("00000000000000000000000000000001 ") } ?? false
        return ipv6 ? "127.0.0.1,::1" : "127.0.0.1"
    }
}
