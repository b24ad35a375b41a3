import BranchCore
import BranchSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts, stops and inspects one Postgres server process by its data directory, running it as
/// the `postgres` OS user. The server is detached from the service (pg_ctl daemonizes it), so a
/// restart of the service does not take databases down; the pid file is the source of truth.
package struct PostgresServer: Sendable {
    package let installation: PostgresInstallation
    package let dataDirectory: String
    package let logFile: String

    package init(installation: PostgresInstallation, dataDirectory: String, logFile: String) {
        self.installation = installation
        self.dataDirectory = dataDirectory
        self.logFile = logFile
    }

    /// Launches the server without waiting for it to accept connections.
    package func launch() async throws(PostgresError) {
        do {
            try await Command.run(
                installation.tool("pg_ctl"), ["start", "-D", dataDirectory, "-l", logFile, "-W", "-s"],
                user: ClusterFiles.superuser)
        } catch {
            throw PostgresError(.postgresStartFailed, "pg_ctl could not start the server in \(dataDirectory): \(error.message)")
        }
    }

    /// Launches the server and waits until it accepts connections on `probe`.
    package func start(probe: ConnectionInfo, timeout: Duration = .seconds(60)) async throws(PostgresError) {
        try await launch()
        guard await waitUntilReady(probe: probe, timeout: timeout) else {
            if let taken = PostgresError.portTaken(probe.port, running: runningPID() != nil) { throw taken }
            throw PostgresError(.postgresStartFailed, "Postgres did not accept connections within \(timeout): \(logTail())")
        }
    }

    /// Polls until the server accepts connections; gives up early if the postmaster died. Until its
    /// pid file names it, it may still be starting (on a loaded machine that takes longer than the
    /// first checks; and the postmaster creates the file empty, then writes it), so only a FATAL
    /// line in the log, or `startGrace` without a pid, counts as dead then.
    package func waitUntilReady(probe: ConnectionInfo, timeout: Duration) async -> Bool {
        let launched = ContinuousClock.now
        return await PGPing.waitUntilReady(probe, timeout: timeout) {
            guard let pid = pidFromFile() else {
                return ContinuousClock.now - launched < Self.startGrace && !(Files.read(logFile) ?? "").contains("FATAL:")
            }
            return Self.isAlivePostgres(pid)
        }
    }

    /// How long a launched postmaster may take to write its pid file.
    static let startGrace: Duration = .seconds(10)

    /// Stops the server: a fast shutdown (a clean checkpoint, sessions disconnected); immediate
    /// if that does not finish within `timeout`. No error when it is not running.
    package func stop(timeout: Int = 60) async throws(PostgresError) {
        guard runningPID() != nil else { return }
        let pgctl = installation.tool("pg_ctl")
        let fast = try? await Command.run(
            pgctl, ["stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", String(timeout), "-s"],
            user: ClusterFiles.superuser, check: false)
        if fast?.succeeded == true || runningPID() == nil { return }
        let immediate = try? await Command.run(
            pgctl, ["stop", "-D", dataDirectory, "-m", "immediate", "-w", "-t", "30", "-s"],
            user: ClusterFiles.superuser, check: false)
        if immediate?.succeeded == true || runningPID() == nil { return }
        throw PostgresError(.postgresStopFailed, "Postgres in \(dataDirectory) did not stop: \(fast?.tail ?? "")")
    }

    /// The postmaster's pid if it is alive, from `postmaster.pid`.
    package func runningPID() -> Int32? {
        guard let pid = pidFromFile() else { return nil }
        return Self.isAlivePostgres(pid) ? pid : nil
    }

    /// The pid `postmaster.pid` names on its first line; nil when there is no file or no whole line yet.
    private func pidFromFile() -> Int32? {
        guard let text = Files.read("\(dataDirectory)/postmaster.pid"), let end = text.firstIndex(of: "\n") else { return nil }
        return Int32(text[..<end])
    }

    /// True for a live (not zombie) process whose command is postgres.
    static func isAlivePostgres(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = Files.read("/proc/\(pid)/stat") else { return false }
        // "pid (comm) S ..." — comm may hold spaces, so read after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { return false }
        let comm = stat[stat.index(after: stat.firstIndex(of: "(")!)..<close]
        let state = stat[stat.index(close, offsetBy: 2)...].first
        return state != "Z" && state != "X" && (comm == "postgres" || comm == "postmaster")
    }

    /// The last lines of the server log, for error messages.
    package func logTail(lines: Int = 5) -> String {
        guard let text = Files.read(logFile) else { return "no log at \(logFile)" }
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}
