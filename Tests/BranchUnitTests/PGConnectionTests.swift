import BranchCore
import BranchPostgres
import BranchSystem
import BranchTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// libpq off the cooperative pool: cancellation, timeouts, state read without waiting, pings,
/// COPY, closing; against one real throw-away Postgres for the whole suite.
@Suite("PGConnection against a throw-away Postgres", .serialized, .enabled(if: ThrowAwayPostgres.canRun), ThrowAwayPostgres.Scope())
struct PGConnectionTests {
    var pg: ThrowAwayPostgres { get throws { try #require(ThrowAwayPostgres.current) } }

    @Test("cancelling the task cancels pg_sleep(30) on the server within 1 s, and the connection still answers")
    func cancelRunningQuery() async throws {
        let info = try pg.connection()
        try await withConnection(info) { connection in
            try await withConnection(info) { monitor in
                let pid = try #require(try await connection.query("SELECT pg_backend_pid()").scalar)
                let task = Task { try await connection.query("SELECT pg_sleep(30)") }
                try await waitUntil("the server runs pg_sleep(30)") {
                    try await monitor.query("SELECT state FROM pg_stat_activity WHERE pid = $1", [pid]).scalar == "active"
                }
                let start = ContinuousClock.now
                task.cancel()
                let error = await failure(ofTask: task)
                #expect(ContinuousClock.now - start < .seconds(1))
                #expect(error?.kind == .postgresQueryCancelled, "\(String(describing: error))")
                #expect(error?.sqlState == "57014", "the server cancelled it (query_canceled)")
                let running = try await monitor.query("""
                    SELECT count(*) FROM pg_stat_activity
                    WHERE state = 'active' AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()
                    """).scalar
                #expect(running == "0")
                #expect(try await connection.query("SELECT 1").scalar == "1")
                #expect(connection.isHealthy)
            }
        }
    }

    @Test("a pipeline runs its statements in order in one round trip; after a failure the rest are skipped, and the connection stays usable")
    func pipeline() async throws {
        try await withConnection(try pg.connection()) { connection in
            let results = try await connection.pipeline([
                ("BEGIN", []), ("SELECT set_config('app.x', $1, true)", ["it's"]), ("SELECT current_setting('app.x') || $1", ["!"]), ("COMMIT", []),
            ])
            #expect(results.count == 4)
            #expect(try results[2]?.get().scalar == "it's!")

            let failed = try await connection.pipeline([("BEGIN", []), ("SELECT 1/0", []), ("SELECT 2", [])])
            guard case .failure(let error)? = failed[1] else { Issue.record("the division should fail"); return }
            #expect(error.sqlState == "22012")
            #expect(error.server?.message == "division by zero")
            #expect(failed[2] == nil, "skipped after the failure")
            try await connection.execute("ROLLBACK")
            #expect(try await connection.query("SELECT 3").scalar == "3")
            #expect(connection.isHealthy)

            // Prepared: the same statements again run by name; one that cannot be prepared reports
            // its own error, and is not remembered as prepared.
            for round in 0..<3 {
                let prepared = try await connection.pipeline([("SELECT $1::int + 1", ["\(round)"]), ("SELECT no_such_column", [])], preparing: true)
                #expect(try prepared[0]?.get().scalar == "\(round + 1)")
                guard case .failure(let error)? = prepared[1] else { Issue.record("an unknown column must fail"); return }
                #expect(error.sqlState == "42703")
            }
            #expect(try await connection.query("SELECT count(*) FROM pg_prepared_statements").scalar == "1")
        }
    }

    @Test("a timeout of 200 ms on pg_sleep(5) throws postgres_query_timeout within 1 s")
    func queryTimeout() async throws {
        try await withConnection(try pg.connection()) { connection in
            let start = ContinuousClock.now
            let error = await failure { try await connection.query("SELECT pg_sleep(5)", timeout: .milliseconds(200)) }
            #expect(ContinuousClock.now - start < .seconds(1))
            #expect(error?.kind == .postgresQueryTimeout, "\(String(describing: error))")
            #expect(error?.sqlState == "57014")
            let executeError = await failure { try await connection.execute("SELECT pg_sleep(5)", timeout: .milliseconds(200)) }
            #expect(executeError?.kind == .postgresQueryTimeout)
            #expect(try await connection.query("SELECT 1", timeout: .seconds(5)).scalar == "1")
            // A statement that finishes in time is untouched by its timer, and so is the next one.
            #expect(try await connection.query("SELECT pg_sleep(0.05)", timeout: .milliseconds(100)).count == 1)
            try await Task.sleep(for: .milliseconds(150))
            #expect(try await connection.query("SELECT 2").scalar == "2")
        }
    }

    @Test("a call in an already cancelled task does not run")
    func cancelledBeforeStart() async throws {
        try await withConnection(try pg.connection()) { connection in
            try await connection.execute("CREATE TABLE not_run (id int)")
            let error = await failureInCancelledTask { try await connection.execute("INSERT INTO not_run VALUES (1)") }
            #expect(error?.kind == .postgresQueryCancelled)
            #expect(try await connection.query("SELECT count(*) FROM not_run").scalar == "0")
            try await connection.execute("DROP TABLE not_run")
        }
    }

    @Test("isHealthy and bytesReceived answer in under 10 ms while pg_sleep(2) runs on the same connection")
    func stateWithoutWaiting() async throws {
        let info = try pg.connection()
        try await withConnection(info) { connection in
            try await withConnection(info) { monitor in
                let pid = try #require(try await connection.query("SELECT pg_backend_pid()").scalar)
                let before = connection.bytesReceived
                #expect(before > 0)
                let task = Task { try await connection.query("SELECT pg_sleep(2)") }
                try await waitUntil("the server runs pg_sleep(2)") {
                    try await monitor.query("SELECT state FROM pg_stat_activity WHERE pid = $1", [pid]).scalar == "active"
                }
                let clock = ContinuousClock()
                var healthy = false
                let healthTime = clock.measure { healthy = connection.isHealthy }
                var bytes: UInt64 = 0
                let bytesTime = clock.measure { bytes = connection.bytesReceived }
                #expect(healthTime < .milliseconds(10))
                #expect(bytesTime < .milliseconds(10))
                #expect(healthy)
                #expect(bytes == before)
                _ = try await task.value
                #expect(connection.isHealthy)
            }
        }
    }

    @Test("PGPing: nothing listening is unreachable; 8 pings into a blackhole leave the cooperative threads free")
    func pingOffThePool() async throws {
        let closed = ConnectionInfo(host: "127.0.0.1", port: try freePort(), user: "postgres", database: "postgres")
        #expect(await PGPing.check(closed) == .unreachable)
        #expect(await PGPing.check(try pg.connection()) == .ready)

        // A listener that never accepts: each ping waits its whole connect timeout (2 s).
        let blackhole = try Blackhole()
        let info = blackhole.connection()
        let start = ContinuousClock.now
        async let pings: [PGPing.Status] = withTaskGroup(of: PGPing.Status.self) { group in
            for _ in 0..<8 { group.addTask { await PGPing.check(info) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        var latencies: [Duration] = []
        try await Task.sleep(for: .milliseconds(100))
        for _ in 0..<10 {
            let scheduled = ContinuousClock.now
            latencies.append(await Task { ContinuousClock.now - scheduled }.value)
            try await Task.sleep(for: .milliseconds(100))
        }
        let statuses = await pings
        let elapsed = ContinuousClock.now - start
        #expect(statuses == Array(repeating: .unreachable, count: 8))
        #expect(elapsed > .milliseconds(1500), "the pings did wait for their connect timeout")
        // Median: robust to other suites' work on the same two cores; blocked threads would delay every sample by ~2 s.
        let median = latencies.sorted()[latencies.count / 2]
        #expect(median < .milliseconds(50), "\(latencies)")
        #expect(latencies.max()! < .milliseconds(1000), "\(latencies)")
    }

    @Test("connect: cancellable, with a timeout, and connect_timeout still applies")
    func connectStops() async throws {
        let blackhole = try Blackhole()
        let info = blackhole.connection(password: "hunter2-secret")

        var start = ContinuousClock.now
        var error = await failure { try await PGConnection.connect(info, timeout: .milliseconds(300)) }
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(error?.kind == .postgresQueryTimeout, "\(String(describing: error))")

        let task = Task { try await PGConnection.connect(info) }
        try await Task.sleep(for: .milliseconds(200))
        start = ContinuousClock.now
        task.cancel()
        error = await failure(ofTask: task)
        #expect(ContinuousClock.now - start < .milliseconds(500))
        #expect(error?.kind == .postgresQueryCancelled, "\(String(describing: error))")

        start = ContinuousClock.now
        error = await failure { try await PGConnection.connect(info) }
        let waited = ContinuousClock.now - start
        #expect(error?.kind == .postgresConnectionFailed, "\(String(describing: error))")
        #expect(waited > .milliseconds(1800) && waited < .seconds(4), "\(waited)")
        #expect(error.map { !"\($0)".contains("hunter2") } == true)

        let closed = ConnectionInfo(host: "127.0.0.1", port: try freePort(), user: "postgres", database: "postgres")
        error = await failure { try await PGConnection.connect(closed) }
        #expect(error?.kind == .postgresConnectionFailed)
        #expect(try await PGConnection.connect(try pg.connection(), timeout: .seconds(5)).query("SELECT 1").scalar == "1")
    }

    @Test("ConnectionInfo prints its redacted URL, never the password")
    func redacted() {
        let info = ConnectionInfo(host: "db.example.com", port: 6432, user: "app", database: "app", password: "s3cret-p@ss")
        #expect("\(info)" == info.redactedURL)
        #expect(!"\(info)".contains("s3cret"))
        #expect(!String(reflecting: info).contains("s3cret"))
        #expect(!String(describing: [info]).contains("s3cret"))
        var dumped = ""
        dump(info, to: &dumped)
        #expect(!dumped.contains("s3cret"))
        #expect(info.url.contains("s3cret") && info.conninfo.contains("s3cret"), "still there to connect with")
    }

    @Test("COPY out and in round-trip a table")
    func copyRoundTrip() async throws {
        try await withConnection(try pg.connection()) { connection in
            try await connection.execute("""
                CREATE TABLE copy_source (id int PRIMARY KEY, name text, note text);
                INSERT INTO copy_source SELECT i, 'row ' || i || E'\\ttab', CASE WHEN i % 3 = 0 THEN NULL ELSE repeat('x', i) END
                FROM generate_series(1, 500) i;
                CREATE TABLE copy_target (LIKE copy_source);
                """)
            try await connection.beginCopyOut("COPY copy_source TO STDOUT")
            var data: [UInt8] = []
            var pieces = 0
            while let piece = try await connection.readCopy(maxBytes: 4096) {
                data += piece
                pieces += 1
            }
            #expect(pieces > 1)
            #expect(try await connection.readCopy() == nil)
            try await connection.beginCopyIn("COPY copy_target FROM STDIN")
            for offset in stride(from: 0, to: data.count, by: 1000) {
                try await connection.writeCopy(Array(data[offset..<min(offset + 1000, data.count)]))
            }
            try await connection.endCopyIn()
            #expect(try await connection.query("SELECT count(*) FROM copy_target").scalar == "500")
            let differing = try await connection.query("""
                SELECT count(*) FROM ((TABLE copy_source EXCEPT ALL TABLE copy_target) UNION ALL (TABLE copy_target EXCEPT ALL TABLE copy_source)) d
                """).scalar
            #expect(differing == "0")
            try await connection.execute("DROP TABLE copy_source, copy_target")
        }
    }

    @Test("a stopped or abandoned COPY leaves the connection usable")
    func copyStops() async throws {
        try await withConnection(try pg.connection()) { connection in
            // COPY OUT whose second row takes long (the first, 100 kB, makes the server send what it has):
            // the read times out, the COPY is cancelled.
            try await connection.beginCopyOut("COPY (SELECT repeat('x', 100000) UNION ALL SELECT pg_sleep(5)::text) TO STDOUT")
            let start = ContinuousClock.now
            let error = await failure { try await connection.readCopy(timeout: .milliseconds(200)) }
            #expect(ContinuousClock.now - start < .seconds(1))
            #expect(error?.kind == .postgresQueryTimeout, "\(String(describing: error))")
            #expect(try await connection.readCopy() == nil)
            #expect(try await connection.query("SELECT 1").scalar == "1")

            // COPY OUT read in part, then left: the next statement still works.
            try await connection.beginCopyOut("COPY (SELECT generate_series(1, 5000000)) TO STDOUT")
            #expect(try await connection.readCopy(maxBytes: 1024)?.isEmpty == false)
            #expect(try await connection.query("SELECT 'after copy out'", timeout: .seconds(10)).scalar == "after copy out")

            // COPY IN whose writer is cancelled: aborted, nothing written, the connection answers.
            try await connection.execute("CREATE TABLE copy_in (id int)")
            try await connection.beginCopyIn("COPY copy_in FROM STDIN")
            try await connection.writeCopy(Array("1\n2\n".utf8))
            let cancelled = await failureInCancelledTask { try await connection.writeCopy(Array("3\n".utf8)) }
            #expect(cancelled?.kind == .postgresQueryCancelled)
            #expect(try await connection.query("SELECT count(*) FROM copy_in").scalar == "0")

            // COPY IN left open: the next statement ends it.
            try await connection.beginCopyIn("COPY copy_in FROM STDIN")
            try await connection.writeCopy(Array("4\n".utf8))
            #expect(try await connection.query("SELECT count(*) FROM copy_in").scalar == "0")
            try await connection.execute("DROP TABLE copy_in")
            #expect(connection.isHealthy)
        }
    }

    @Test("close() finishes the connection now, and again does nothing")
    func closeIdempotent() async throws {
        let info = try pg.connection()
        try await withConnection(info) { monitor in
            let connection = try await PGConnection.connect(info)
            let pid = try #require(try await connection.query("SELECT pg_backend_pid()").scalar)
            #expect(connection.isHealthy)
            connection.close()
            #expect(!connection.isHealthy)
            connection.close()
            #expect(!connection.isHealthy)
            let error = await failure { try await connection.query("SELECT 1") }
            #expect(error?.kind == .postgresConnectionFailed)
            try await waitUntil("the backend is gone") {
                try await monitor.query("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [pid]).scalar == "0"
            }
        }
    }
}

// MARK: Helpers

/// The PostgresError a call threw, nil if it did not throw one.
private func failure<T>(_ body: () async throws -> T) async -> PostgresError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error as? PostgresError
    }
}

private func failure<T>(ofTask task: Task<T, any Error>) async -> PostgresError? {
    switch await task.result {
    case .success: nil
    case .failure(let error): error as? PostgresError
    }
}

/// Runs `body` in a task that is cancelled before `body` starts.
private func failureInCancelledTask<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async -> PostgresError? {
    let task = Task {
        withUnsafeCurrentTask { $0?.cancel() }
        return try await body()
    }
    return await failure(ofTask: task)
}

private func waitUntil(_ what: String, timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("Timed out waiting until \(what)")
    throw CancellationError()
}

/// A free TCP port (nothing listens on it once this returns), outside the ephemeral range.
private func freePort() throws -> Int {
    try TestPorts.free()
}

private func bindLoopback(_ fd: Int32) throws -> Int {
    guard let port = PortProbe.bindLoopback(fd) else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    return port
}

/// A TCP listener on 127.0.0.1 that never accepts (backlog 0): a client connects, or waits to,
/// and never hears back, until its own timeout.
private final class Blackhole: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        do {
            port = try bindLoopback(fd)
        } catch {
            close(fd)
            throw error
        }
        guard listen(fd, 0) == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    deinit { close(fd) }

    /// Where to connect to it, giving up after 2 s (libpq's minimum connect timeout).
    func connection(password: String? = nil) -> ConnectionInfo {
        var info = ConnectionInfo(host: "127.0.0.1", port: port, user: "postgres", database: "postgres", password: password)
        info.connectTimeout = 2
        return info
    }
}

/// One Postgres 15 server in a temporary directory, initdb'd and run as the `postgres` user,
/// on a free port and its own socket directory; `Scope` starts it around a suite and always
/// stops and removes it.
final class ThrowAwayPostgres: Sendable {
    @TaskLocal static var current: ThrowAwayPostgres?

    static let parent = "/var/tmp/branch-tests"
    static let prefix = "pgconn-"

    /// As root, with a Postgres server installed.
    static var canRun: Bool {
        guard getuid() == 0 else { return false }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        return versions.contains { FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/initdb") }
    }

    let root: String
    let port: Int
    let server: PostgresServer
    var socketDirectory: String { "\(root)/sockets" }

    func connection(database: String = "postgres") -> ConnectionInfo {
        ConnectionInfo(host: socketDirectory, port: port, user: ClusterFiles.superuser, database: database)
    }

    private init(root: String, port: Int, server: PostgresServer) {
        self.root = root
        self.port = port
        self.server = server
    }

    static func start() async throws -> ThrowAwayPostgres {
        await removeLeftovers()
        let installation = try await PostgresInstallation.discover()
        let root = "\(parent)/\(prefix)\(getpid())-\(Identifiers.shortID(length: 8))"
        let port = try freePort()
        let server = PostgresServer(installation: installation, dataDirectory: "\(root)/data", logFile: "\(root)/postgres.log")
        let postgres = ThrowAwayPostgres(root: root, port: port, server: server)
        do {
            try Files.ensureDirectory(parent, mode: 0o755)
            try Files.ensureDirectory(root, mode: 0o755, owner: ClusterFiles.superuser)
            try Files.ensureDirectory("\(root)/data", mode: 0o700, owner: ClusterFiles.superuser)
            try Files.ensureDirectory(postgres.socketDirectory, mode: 0o700, owner: ClusterFiles.superuser)
            try await Command.run(
                installation.tool("initdb"),
                ["-D", "\(root)/data", "-U", ClusterFiles.superuser, "--auth-local=trust", "--auth-host=scram-sha-256",
                 "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
                user: ClusterFiles.superuser)
            let configuration = "\(root)/data/postgresql.conf"
            try Files.writeAtomically(
                (Files.read(configuration) ?? "") + """

                    port = \(port)
                    listen_addresses = '127.0.0.1'
                    unix_socket_directories = '\(postgres.socketDirectory)'
                    max_connections = 30
                    shared_buffers = '16MB'
                    fsync = off

                    """,
                to: configuration, mode: 0o600, owner: ClusterFiles.superuser)
            try await server.start(probe: postgres.connection(), timeout: .seconds(30))
        } catch {
            await postgres.remove()
            throw error
        }
        return postgres
    }

    /// Stops the server (immediately: nothing here needs keeping) and deletes its directory.
    func remove() async {
        if server.runningPID() != nil {
            _ = try? await Command.run(
                server.installation.tool("pg_ctl"), ["stop", "-D", server.dataDirectory, "-m", "immediate", "-w", "-t", "30", "-s"],
                user: ClusterFiles.superuser, check: false)
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// What an earlier test process that died left behind (its pid is in the name).
    static func removeLeftovers() async {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }), pid != getpid(),
                kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            let root = "\(parent)/\(name)"
            if let installation = try? await PostgresInstallation.discover() {
                let server = PostgresServer(installation: installation, dataDirectory: "\(root)/data", logFile: "\(root)/postgres.log")
                await ThrowAwayPostgres(root: root, port: 0, server: server).remove()
            }
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    /// Starts the server around a whole suite (all of its tests see it as `current`), and always
    /// stops and removes it afterwards, whatever the tests did.
    struct Scope: SuiteTrait, TestScoping {
        func provideScope(
            for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
        ) async throws {
            let postgres = try await ThrowAwayPostgres.start()
            do {
                try await ThrowAwayPostgres.$current.withValue(postgres) { try await function() }
            } catch {
                await postgres.remove()
                throw error
            }
            await postgres.remove()
        }
    }
}
