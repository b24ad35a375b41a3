import BranchAuth
import BranchPostgres
import BranchREST

/// What the data API keeps between requests: a connection pool per branch and role, each branch's
/// schema cache, which server start each branch is at (so pools drop connections to a server that
/// restarted), and each project's sign-in limiter.
actor DataAPIState {
    /// Connections per branch and role; Postgres' default max_connections is 100 and the pooled
    /// endpoint needs its share.
    static let poolCapacity = 10

    /// Keys and tokens already verified, and where addresses lead: read on every request, so
    /// they are locked, not isolated to the actor.
    nonisolated let tokens = VerifiedTokens()
    nonisolated let routes = RouteCache()

    private var pools: [String: ConnectionPool] = [:]
    private var schemas: [String: SchemaCache] = [:]
    private var generations: [String: Int] = [:]
    private var limiters: [String: SignInLimiter] = [:]
    /// Auth mails sent per project in the last hour (`AuthPolicy.mailsPerHour`).
    nonisolated let mailBudget = MailBudget()
    private var bootstrapped: [String: Int] = [:]
    private var running: [String: Int] = [:]

    /// The pool of `role` connections to `branchKey`, made on first use.
    func pool(_ branchKey: String, role: String, connect: @escaping ConnectionPool.Connect) -> ConnectionPool {
        let key = "\(branchKey)#\(role)"
        if let pool = pools[key] { return pool }
        let pool = ConnectionPool(capacity: Self.poolCapacity, connect: connect)
        pools[key] = pool
        return pool
    }

    /// The branch's server started or stopped: pooled connections to it are stale, and so is
    /// whatever was known of its schema (an in-place restore brings another database).
    func serverChanged(_ branchKey: String) {
        generations[branchKey, default: 0] += 1
        schemas[branchKey] = nil
    }

    func generation(_ branchKey: String) -> Int { generations[branchKey, default: 0] }

    /// Whether the branch's server was seen running since its last start or stop.
    func seenRunning(_ branchKey: String, generation: Int) -> Bool { running[branchKey] == generation }

    func markRunning(_ branchKey: String, generation: Int) { running[branchKey] = generation }

    /// Whether the data API's objects were checked on the branch since its server's last start.
    func isBootstrapped(_ branchKey: String, generation: Int) -> Bool { bootstrapped[branchKey] == generation }

    func markBootstrapped(_ branchKey: String, generation: Int) { bootstrapped[branchKey] = generation }

    func schema(_ branchKey: String) -> SchemaCache? { schemas[branchKey] }

    func setSchema(_ schema: SchemaCache, for branchKey: String) { schemas[branchKey] = schema }

    func limiter(_ project: String) -> SignInLimiter {
        if let limiter = limiters[project] { return limiter }
        let limiter = SignInLimiter()
        limiters[project] = limiter
        return limiter
    }

    /// The branch is gone (deleted, or renamed): close its pools and forget its schema.
    func forget(branchKey: String) async {
        await forget(prefix: "\(branchKey)#")
        schemas[branchKey] = nil
    }

    /// The branch (or every branch of a project, with `prefix`) is gone: close its pools.
    func forget(prefix: String) async {
        for (key, pool) in pools where key.hasPrefix(prefix) {
            await pool.closeIdle()
            pools[key] = nil
        }
        for key in schemas.keys where key.hasPrefix(prefix) { schemas[key] = nil }
    }
}
