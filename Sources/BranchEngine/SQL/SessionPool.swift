import BranchPostgres

/// Idle connections that the service's own sessions on branches (admin SQL, read-only queries,
/// migrations, the console's reads) take again instead of opening new ones. A new connection costs
/// a backend fork, a SCRAM exchange and a cold catalog cache: 5 to 15 ms here, more than most of
/// the console's queries, and a table editor page makes two.
///
/// A session is reset (`DISCARD ALL`) as it is given back, so nothing one caller set, locked or
/// created survives into the next; one left in a transaction, broken or cancelled is closed
/// instead. A reused session is pinged first, and sessions to an earlier start of the branch's
/// server are never reused. Idle sessions are closed after `idleLifetime`, and each key keeps at
/// most `idlePerKey`, so the pool holds few backends and none for long.
actor SessionPool {
    static let idlePerKey = 2
    static let idleLifetime: Duration = .seconds(60)

    private struct Idle {
        let connection: PGConnection
        let generation: Int
        let since: ContinuousClock.Instant
    }

    private var idle: [String: [Idle]] = [:]

    /// Where a session goes: its key (branch, role, password, database), the branch server's
    /// start it belongs to, and whether it may wait idle afterwards.
    struct Target: Sendable {
        let key: String
        let generation: Int
        let keepsIdle: Bool
    }

    /// The key of sessions to `branchKey` as `user` (with `password`: a changed one opens anew) in `database`.
    static func key(_ branchKey: String, user: String, password: String?, database: String) -> String {
        prefix(branchKey) + "\(user)#\(password ?? "")#\(database)"
    }

    /// What every key of `branchKey`'s sessions starts with.
    static func prefix(_ branchKey: String) -> String { branchKey + "#" }

    /// Runs `body` on a session to `info`, reused when one for `target`'s key at its generation (the
    /// branch server's start) is idle, and keeps the session for the next caller unless the target
    /// keeps none idle (see `keepsIdle(maxConnections:)`).
    nonisolated func withSession<T: Sendable>(
        _ info: ConnectionInfo, _ target: Target, _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        let connection = try await session(info, key: target.key, generation: target.generation)
        do {
            let result = try await body(connection)
            await giveBack(connection, key: target.key, generation: target.generation, keep: target.keepsIdle)
            return result
        } catch {
            await giveBack(connection, key: target.key, generation: target.generation, keep: target.keepsIdle)
            throw error
        }
    }

    /// Whether sessions to a server with this `max_connections` (nil: Postgres' 100) may wait idle:
    /// not when a project limits its branches to few connections, which its app needs.
    static func keepsIdle(maxConnections: Int?) -> Bool { (maxConnections ?? 100) >= 20 }

    private nonisolated func session(_ info: ConnectionInfo, key: String, generation: Int) async throws -> PGConnection {
        while let reused = await take(key, generation: generation) {
            if (try? await reused.execute("SELECT 1", timeout: .seconds(2))) != nil { return reused }
            reused.close()
        }
        return try await PGConnection.connect(info)
    }

    private nonisolated func giveBack(_ connection: PGConnection, key: String, generation: Int, keep: Bool) async {
        guard keep, connection.isHealthy, !Task.isCancelled, (try? await connection.resetSession(timeout: .seconds(5))) != nil else {
            connection.close()
            return
        }
        await store(connection, key: key, generation: generation)
    }

    private func take(_ key: String, generation: Int) -> PGConnection? {
        closeExpired()
        guard var sessions = idle[key] else { return nil }
        for stale in sessions where stale.generation != generation { stale.connection.close() }
        sessions.removeAll { $0.generation != generation }
        let taken = sessions.popLast()
        idle[key] = sessions.isEmpty ? nil : sessions
        return taken?.connection
    }

    private func store(_ connection: PGConnection, key: String, generation: Int) {
        closeExpired()
        var sessions = idle[key, default: []]
        guard sessions.count < Self.idlePerKey else {
            connection.close()
            return
        }
        sessions.append(Idle(connection: connection, generation: generation, since: .now))
        idle[key] = sessions
    }

    /// Closes sessions idle longer than `idleLifetime` (also called by the metrics loop, so a
    /// branch nobody uses again does not keep them).
    func closeExpired(now: ContinuousClock.Instant = .now) {
        for (key, sessions) in idle {
            let expired = sessions.filter { now - $0.since >= Self.idleLifetime }
            guard !expired.isEmpty else { continue }
            for session in expired { session.connection.close() }
            let left = sessions.filter { now - $0.since < Self.idleLifetime }
            idle[key] = left.isEmpty ? nil : left
        }
    }

    /// Closes the idle sessions of keys starting with `prefix` (a branch or project deleted, a
    /// server stopped), or all of them.
    func close(prefix: String = "") {
        for (key, sessions) in idle where key.hasPrefix(prefix) {
            for session in sessions { session.connection.close() }
            idle[key] = nil
        }
    }
}
