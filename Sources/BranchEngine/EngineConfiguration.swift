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

    public init() {}
}
