import BranchCore
package import BranchPostgres
import BranchSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A plain Postgres cluster started by a test, standing for a database that lives elsewhere (a
/// client's server, a Supabase project): its own initdb, TCP on 127.0.0.1 with SCRAM passwords,
/// `wal_level=logical` unless asked otherwise. `ExternalPostgres.with` stops it and removes its
/// files whatever the test did.
package struct ExternalPostgres: Sendable {
    package let port: Int
    /// The superuser's password (user `postgres`).
    package let password: String
    package let database: String
    let root: String
    let installation: PostgresInstallation

    package var dataDirectory: String { "\(root)/data" }

    /// A `postgres://` URL for `user` (the superuser by default).
    package func url(user: String = "postgres", password: String? = nil, database: String? = nil, host: String = "127.0.0.1", port: Int? = nil) -> String {
        let secret = password ?? self.password
        let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? secret
        return "postgres://\(user):\(encoded)@\(host):\(port ?? self.port)/\(database ?? self.database)"
    }

    /// The superuser's connection over TCP.
    package func connection(database: String? = nil) -> ConnectionInfo {
        ConnectionInfo(host: "127.0.0.1", port: port, user: "postgres", database: database ?? self.database, password: password)
    }

    /// Runs `sql` (one script, in one transaction unless it says otherwise) as the superuser.
    @discardableResult
    package func execute(_ sql: String, database: String? = nil) async throws -> PGRows {
        try await withConnection(connection(database: database)) { try await $0.execute(sql) }
    }

    /// The first column of the first row of `sql`.
    package func scalar(_ sql: String, database: String? = nil) async throws -> String? {
        try await withConnection(connection(database: database)) { try await $0.query(sql).scalar }
    }

    /// Runs `body` with a started cluster holding an empty database `database`, then stops it
    /// (fast shutdown, then SIGKILL if it lingers) and removes its files, also when `body` throws.
    ///
    /// - Parameter onlyHere: an extension (its name and install script) this server has and
    ///   Branch's does not: the server then runs from a copy of the Postgres installation with the
    ///   extension added (Postgres finds its files relative to its binaries).
    package static func with<T>(
        database: String = "source", walLevel: String = "logical", onlyHere: (name: String, script: String)? = nil,
        _ body: (ExternalPostgres) async throws -> T
    ) async throws -> T {
        var installation = try await PostgresInstallation.discover()
        let root = "/var/tmp/branch-tests/external-\(Identifiers.shortID(length: 10))"
        try Files.ensureDirectory(root, mode: 0o755, owner: ClusterFiles.superuser)
        if let onlyHere {
            installation = try await copy(installation, into: "\(root)/install", adding: onlyHere)
        }
        let port = try TestEnvironment.freePort()
        let password = "src-\(Identifiers.shortID(length: 12))"
        let server = ExternalPostgres(port: port, password: password, database: database, root: root, installation: installation)
        do {
            try await server.start(walLevel: walLevel)
            try await server.execute("CREATE DATABASE \(SQL.identifier(database))", database: "postgres")
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            if let log = Files.read("\(root)/postgres.log"), !log.isEmpty {
                print("---- external postgres log ----\n\(log.split(separator: "\n").suffix(20).joined(separator: "\n"))")
            }
            await server.stop()
            throw error
        }
    }

    /// A copy of `installation` under `root` (Debian's layout: usr/lib/postgresql/N, usr/share/postgresql/N)
    /// with one more extension in its share directory.
    private static func copy(_ installation: PostgresInstallation, into root: String, adding extra: (name: String, script: String)) async throws -> PostgresInstallation {
        let lib = URL(fileURLWithPath: installation.binDirectory).deletingLastPathComponent().path  // /usr/lib/postgresql/15
        let share = try await Command.run(installation.tool("pg_config"), ["--sharedir"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        for source in [lib, share] {
            let target = root + source
            try Files.ensureDirectory(URL(fileURLWithPath: target).deletingLastPathComponent().path, mode: 0o755)
            try await Command.run("cp", ["-a", source, target])
        }
        let extensions = "\(root)\(share)/extension"
        try Files.writeAtomically(
            "comment = 'only on this server'\ndefault_version = '1.0'\nrelocatable = true\n", to: "\(extensions)/\(extra.name).control", mode: 0o644)
        try Files.writeAtomically(extra.script, to: "\(extensions)/\(extra.name)--1.0.sql", mode: 0o644)
        return try await PostgresInstallation.discover(binDirectory: root + installation.binDirectory)
    }

    private func start(walLevel: String) async throws {
        try Files.ensureDirectory(dataDirectory, mode: 0o700, owner: ClusterFiles.superuser)
        let passwordFile = "\(root)/pwfile"
        try Files.writeAtomically(password + "\n", to: passwordFile, mode: 0o600, owner: ClusterFiles.superuser)
        try await Command.run(
            installation.tool("initdb"),
            ["-D", dataDirectory, "-U", "postgres", "--pwfile", passwordFile, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            user: ClusterFiles.superuser)
        try? FileManager.default.removeItem(atPath: passwordFile)
        let settings = """

            listen_addresses = '127.0.0.1'
            port = \(port)
            unix_socket_directories = ''
            wal_level = \(walLevel)
            max_wal_senders = 10
            max_replication_slots = 10
            fsync = off
            synchronous_commit = off
            full_page_writes = off
            """
        let conf = "\(dataDirectory)/postgresql.conf"
        try Files.writeAtomically((Files.read(conf) ?? "") + settings + "\n", to: conf, mode: 0o600, owner: ClusterFiles.superuser)
        try await Command.run(
            installation.tool("pg_ctl"), ["-D", dataDirectory, "-l", "\(root)/postgres.log", "-w", "-t", "60", "start"],
            user: ClusterFiles.superuser)
    }

    /// Stops the cluster and removes its files; never throws.
    package func stop() async {
        _ = try? await Command.run(
            installation.tool("pg_ctl"), ["-D", dataDirectory, "-m", "fast", "-w", "-t", "20", "stop"], user: ClusterFiles.superuser, check: false)
        if let text = Files.read("\(dataDirectory)/postmaster.pid"), let pid = Int32(text.split(separator: "\n").first ?? "") {
            kill(pid, SIGKILL)
        }
        try? FileManager.default.removeItem(atPath: root)
    }
}
