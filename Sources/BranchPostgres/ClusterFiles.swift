package import BranchCore
package import BranchSystem

/// The configuration files Branch owns inside a data directory.
///
/// `postgresql.conf` gets a managed block once, in the template (so every clone has it);
/// `branch.conf` holds what differs per branch (port, sockets, name) and is rewritten before
/// every start; `pg_hba.conf` allows the service over the private socket and SCRAM for everyone else.
package enum ClusterFiles {
    /// Name of the role and database every template carries; a new project renames them.
    package static let templateRole = "branch_template_owner"
    package static let templateDatabase = "branch_template_db"
    /// The superuser the service connects as, over the Unix socket only.
    package static let superuser = "postgres"

    package static let managedBlock = """

        # ---- managed by Branch ----
        password_encryption = 'scram-sha-256'
        shared_buffers = '64MB'
        max_connections = 100
        wal_level = replica
        log_line_prefix = '%m [%p] %q%u@%d '
        log_timezone = 'UTC'
        timezone = 'UTC'
        # Per-branch settings (port, sockets, name), rewritten by Branch before each start.
        include_if_exists = 'branch.conf'

        """

    /// `pg_hba.conf` for a server whose TCP clients may come only from `allowlist` (every
    /// address when it is open). Connections over the socket directory (the service, its data
    /// API and PgBouncer, which reach each server that way) are not network clients and stay allowed.
    package static func hba(allowing allowlist: Allowlist = Allowlist()) -> String {
        let networks = allowlist.isOpen ? ["0.0.0.0/0", "::/0"] : allowlist.entries
        return """
            # Managed by Branch. The service connects as postgres over a socket directory only root
            # and postgres can reach, and its data API as authenticator and supabase_auth_admin;
            # every other connection authenticates with SCRAM, and over TCP only from the project's
            # allowlist (`branch project set --allow`; all addresses when it is empty).
            local   all   postgres                 trust
            local   replication   postgres         trust
            local   all   authenticator            trust
            local   all   supabase_auth_admin      trust
            local   all   all                      scram-sha-256

            """ + networks.map { "host    all   all        \($0)     scram-sha-256\n" }.joined()
    }

    /// Settings for one branch's server.
    package struct BranchSettings: Sendable, Hashable {
        package var port: Int
        package var listenAddresses: String
        package var socketDirectory: String
        package var clusterName: String
        /// Extra `name = value` lines (limits and later features).
        package var extra: [String: String]

        package init(port: Int, listenAddresses: String, socketDirectory: String, clusterName: String, extra: [String: String] = [:]) {
            self.port = port
            self.listenAddresses = listenAddresses
            self.socketDirectory = socketDirectory
            self.clusterName = clusterName
            self.extra = extra
        }

        package var rendered: String {
            var lines = [
                "# Written by Branch before every start; edits are overwritten.",
                "port = \(port)",
                "listen_addresses = \(SQL.literal(listenAddresses))",
                "unix_socket_directories = \(SQL.literal(socketDirectory))",
                "cluster_name = \(SQL.literal(clusterName))",
            ]
            for (key, value) in extra.sorted(by: { $0.key < $1.key }) {
                lines.append("\(key) = \(value)")
            }
            // Present only while a point-in-time recovery runs.
            lines.append("include_if_exists = \(SQL.literal(WALArchive.recoveryConfigName))")
            return lines.joined(separator: "\n") + "\n"
        }
    }

    /// Writes `branch.conf` into `dataDirectory` (owned by postgres).
    /// Writes the server settings and the current `pg_hba.conf`, before every start (so clusters
    /// made by an older version get today's rules too).
    package static func writeBranchSettings(
        _ settings: BranchSettings, dataDirectory: String, allowlist: Allowlist = Allowlist()
    ) throws(FileError) {
        try Files.writeAtomically(settings.rendered, to: "\(dataDirectory)/branch.conf", mode: 0o600, owner: superuser)
        try writeHBA(allowing: allowlist, dataDirectory: dataDirectory)
    }

    /// Rewrites `pg_hba.conf` alone; a running server reads it again on `pg_reload_conf()`.
    package static func writeHBA(allowing allowlist: Allowlist, dataDirectory: String) throws(FileError) {
        try Files.writeAtomically(hba(allowing: allowlist), to: "\(dataDirectory)/pg_hba.conf", mode: 0o600, owner: superuser)
    }

    /// Removes what a copy of a running server carries over and must not keep: its pid file
    /// (a clone would refuse to start, or worse, trust a stale one) and its recorded options.
    package static func clearRuntimeFiles(dataDirectory: String) throws(FileError) {
        try Files.remove("\(dataDirectory)/postmaster.pid")
        try Files.remove("\(dataDirectory)/postmaster.opts")
    }
}
