import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// One database entry of the pooler: a name clients use, the branch server it reaches, the role
/// that may use it and the networks that role may connect from.
struct PoolerEntry: Sendable, Hashable {
    let name: String
    let port: Int
    let database: String
    let role: String
    let allowlist: Allowlist
}

/// The PgBouncer front door: one process on one port for every project. The service owns its
/// configuration: an entry per branch (`project__branch`) and one per project (`project`) that
/// follows checkout. Changes are applied with an online RELOAD on the admin console.
actor Pooler {
    static let adminUser = "branch_admin"

    let layout: PoolLayout
    let port: Int
    let listenAddress: String
    let socketDirectory: String
    private let adminPassword: String
    private let logger: Logger
    /// Computed once: PBKDF2 with 4096 rounds is not free, and the password never changes.
    private lazy var adminVerifier: String? = try? Scram.verifier(password: adminPassword)
    /// Kept open between commands (RELOAD, SHOW POOLS run often); reopened after an error.
    private var adminSession: PGConnection?

    /// The certificate and key TCP clients must use TLS with (nil: plain TCP, in unit tests).
    let tls: PoolerTLS?

    init(layout: PoolLayout, port: Int, listenAddress: String, adminPassword: String, logger: Logger, tls: PoolerTLS? = nil) {
        self.tls = tls
        self.layout = layout
        self.port = port
        self.listenAddress = listenAddress
        self.socketDirectory = layout.poolerDirectory
        self.adminPassword = adminPassword
        self.logger = logger
    }

    var configPath: String { "\(layout.poolerDirectory)/pgbouncer.ini" }
    var authFilePath: String { "\(layout.poolerDirectory)/users.txt" }
    var hbaPath: String { "\(layout.poolerDirectory)/hba.conf" }
    var pidPath: String { "\(layout.poolerDirectory)/pgbouncer.pid" }
    var tlsCertificatePath: String { "\(layout.poolerDirectory)/tls-cert.pem" }
    var tlsKeyPath: String { "\(layout.poolerDirectory)/tls-key.pem" }
    var logPath: String { "\(layout.poolerDirectory)/pgbouncer.log" }

    /// The admin console, over the pooler's private Unix socket.
    var adminConnection: ConnectionInfo {
        ConnectionInfo(host: socketDirectory, port: port, user: Self.adminUser, database: "pgbouncer", password: adminPassword)
    }

    /// Writes the configuration and makes the running pooler use it: starts PgBouncer if it is
    /// not running (or adopts the one left by a previous service), else reloads it online.
    func apply(entries: [PoolerEntry], users: [(role: String, verifier: String)]) async throws {
        try Files.ensureDirectory(layout.poolerDirectory, mode: 0o700, owner: ClusterFiles.superuser)
        guard let adminVerifier else { throw PoolerError(message: "Could not compute the pooler's admin verifier.") }
        try Self.write(Self.renderAuthFile(users: users + [(Self.adminUser, adminVerifier)]), to: authFilePath)
        try Self.write(Self.renderHBA(entries: entries), to: hbaPath)
        if let tls {
            // PgBouncer runs as postgres and cannot read the service's key where root keeps it.
            try Self.write(tls.certificatePEM, to: tlsCertificatePath)
            try Self.write(tls.keyPEM, to: tlsKeyPath)
        }
        try Self.write(renderConfig(entries: entries), to: configPath)
        if runningPID() == nil {
            adminSession = nil
            try await start()
        } else {
            try await admin("RELOAD")
        }
    }

    /// Writes one of the pooler's files (postgres's, 0600) unless it already holds `contents`: a
    /// branch create changes the config and the hba file, and rewriting the others cost an fsync
    /// each on every sync.
    static func write(_ contents: String, to path: String) throws {
        if let current = try? String(contentsOfFile: path, encoding: .utf8), current == contents { return }
        try Files.writeAtomically(contents, to: path, mode: 0o600, owner: ClusterFiles.superuser)
    }

    /// Runs one admin console command (`RELOAD`, `SHOW POOLS`...) on the kept session.
    @discardableResult
    func admin(_ command: String) async throws -> PGRows {
        if let session = adminSession, session.isHealthy, let rows = try? await session.execute(command) {
            return rows
        }
        adminSession = nil
        let session = try await PGConnection.connect(adminConnection)
        let rows = try await session.execute(command)
        adminSession = session
        return rows
    }

    /// Clients per pooler database: connected (active) and queued (waiting for a server).
    func clients() async throws -> [String: (active: Int, waiting: Int)] {
        let rows = try await admin("SHOW POOLS")
        var result: [String: (active: Int, waiting: Int)] = [:]
        for index in 0..<rows.count {
            guard let database = rows.value(index, "database") else { continue }
            let active = Int(rows.value(index, "cl_active") ?? "") ?? 0
            let waiting = Int(rows.value(index, "cl_waiting") ?? "") ?? 0
            let previous = result[database] ?? (0, 0)
            result[database] = (previous.active + active, previous.waiting + waiting)
        }
        return result
    }

    /// Pauses a database entry: new clients queue instead of reaching its server. Gives up (and
    /// resumes) if the pause does not complete within `timeout`, because a client still holds a
    /// server connection; returns whether it is paused. The PAUSE runs on a connection of its own,
    /// abandoned when the timeout fires, so nothing waits on PgBouncer longer than that.
    func pause(_ database: String, timeout: Duration = .seconds(2)) async -> Bool {
        guard let connection = try? await PGConnection.connect(adminConnection) else { return false }
        defer { connection.close() }
        do {
            try await connection.execute("PAUSE \(Self.quoted(database))", timeout: timeout)
            return true
        } catch {
            _ = try? await admin("RESUME \(Self.quoted(database))")
            return false
        }
    }

    /// Lets queued and new clients through to the database's server again. A database that is
    /// not paused is fine.
    func resume(_ database: String) async {
        _ = try? await admin("RESUME \(Self.quoted(database))")
    }

    /// Admin console commands take database names as identifiers; ours need quoting for `-`.
    static func quoted(_ name: String) -> String { "\"" + name + "\"" }

    func runningPID() -> Int32? {
        guard let text = Files.read(pidPath), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
            kill(pid, 0) == 0, let comm = Files.read("/proc/\(pid)/comm"),
            comm.trimmingCharacters(in: .whitespacesAndNewlines) == "pgbouncer"
        else { return nil }
        return pid
    }

    var isRunning: Bool { runningPID() != nil }

    private func start() async throws {
        try Files.remove(pidPath)
        do {
            try await Command.run("pgbouncer", ["-d", "-q", configPath], user: ClusterFiles.superuser)
        } catch {
            throw PoolerError(message: "PgBouncer did not start: \(error.message) \(logTail())")
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? await admin("SHOW VERSION")) != nil {
                logger.info("pooler started", metadata: ["port": "\(port)", "pid": "\(runningPID() ?? 0)"])
                return
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        throw PoolerError(message: "PgBouncer did not answer on port \(port) within 10 s. \(logTail())")
    }

    /// Stops PgBouncer (SIGTERM: immediate shutdown) and waits for it to exit.
    func stop() async {
        adminSession = nil
        guard let pid = runningPID() else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, runningPID() != nil {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if let pid = runningPID() { kill(pid, SIGKILL) }
    }

    private func logTail() -> String {
        (Files.read(logPath) ?? "").split(separator: "\n").suffix(3).joined(separator: "\n")
    }

    func renderConfig(entries: [PoolerEntry]) -> String {
        var lines = ["; Written by Branch; edits are overwritten.", "[databases]"]
        for entry in entries.sorted(by: { $0.name < $1.name }) {
            lines.append("\(entry.name) = host=\(layout.socketDirectory(port: entry.port)) port=\(entry.port) dbname=\(entry.database)")
        }
        lines += [
            "",
            "[pgbouncer]",
            "listen_addr = \(listenAddress)",
            "listen_port = \(port)",
            "unix_socket_dir = \(socketDirectory)",
            // SCRAM for every client, and only from the networks of each entry's project (hba.conf).
            "auth_type = hba",
            "auth_hba_file = \(hbaPath)",
            "auth_file = \(authFilePath)",
            "admin_users = \(Self.adminUser)",
            "pool_mode = session",
            "max_client_conn = 2000",
            "default_pool_size = 20",
            "server_reset_query = DISCARD ALL",
            "ignore_startup_parameters = extra_float_digits",
            "pidfile = \(pidPath)",
            "logfile = \(logPath)",
            "log_connections = 0",
            "log_disconnections = 0",
            // A client's first connection to a paused (suspended) database can make PgBouncer try
            // the stopped server once; retry quickly once it is resumed instead of after 15 s.
            "server_login_retry = 0.25",
            "",
        ]
        if tls != nil {
            // TCP clients must use TLS (a plain one is refused: "SSL required"); the service's own
            // admin console on the Unix socket is not affected.
            lines.insert(
                contentsOf: [
                    "client_tls_sslmode = require", "client_tls_cert_file = \(tlsCertificatePath)", "client_tls_key_file = \(tlsKeyPath)",
                    "client_tls_protocols = secure",
                ], at: lines.count - 1)
        }
        return lines.joined(separator: "\n")
    }

    /// PgBouncer's hba file: over its private Unix socket (the service's admin console) every
    /// user may try SCRAM; over TCP each entry takes only its project's role, from its project's
    /// networks (every address when the allowlist is empty). Whatever matches no line is refused.
    static func renderHBA(entries: [PoolerEntry]) -> String {
        var lines = [
            "# Written by Branch; edits are overwritten. The first matching line decides; none: refused.",
            "local   all   all   scram-sha-256",
        ]
        for entry in entries.sorted(by: { $0.name < $1.name }) {
            let networks = entry.allowlist.isOpen ? ["0.0.0.0/0", "::/0"] : entry.allowlist.entries
            for network in networks {
                lines.append("host   \(entry.name)   \(entry.role)   \(network)   scram-sha-256")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func renderAuthFile(users: [(role: String, verifier: String)]) -> String {
        users.map { "\"\($0.role)\" \"\($0.verifier)\"" }.joined(separator: "\n") + "\n"
    }
}

/// The certificate chain and key the pooler presents to TCP clients (the service's).
struct PoolerTLS: Sendable {
    let certificatePEM: String
    let keyPEM: String
}

/// PgBouncer failed to start or to take a new configuration.
struct PoolerError: ReportableError {
    let message: String
    var code: ErrorCode { .poolerFailed }
    var hint: String? { "See <pool>/run/pgbouncer/pgbouncer.log." }
}
