import BranchCore
import BranchSystem
import BranchPostgres
import BranchStorage
import Foundation

/// Runs `body` with a throw-away Postgres on a writable copy of `source` (a read-only snapshot or
/// a received backup), and removes the server and the copy afterwards, whatever `body` did; with
/// `recovery`, the server replays archived WAL up to the target and stays there, read-only.
/// Sessions are read-only unless `writable` (a check that installs an extension).
func withScratchServer<T: Sendable>(
    _ context: EngineContext, from source: String, name: String, recovery: Recovery? = nil, writable: Bool = false,
    _ body: (ScratchServer) async throws -> T
) async throws -> T {
    let scratch = try await ScratchServer.start(context: context, from: source, name: name, recovery: recovery, writable: writable)
    do {
        let result = try await body(scratch)
        await scratch.stop()
        return result
    } catch {
        await scratch.stop()
        throw error
    }
}

/// A throw-away Postgres for reading old data without disturbing any branch: a plain process on a
/// free port with its own socket directory, no archiving, logs in the work area. Made and removed
/// by `withScratchServer`, or owned by a `DiffSide` that stops it.
struct ScratchServer {
    let context: EngineContext
    let name: String
    let subvolume: String
    let sockets: String
    let port: Int
    let server: PostgresServer

    /// Copies `source` (a read-only subvolume) and starts a server on the copy; with `recovery`,
    /// the server replays the archived WAL up to the target and stays there, read-only. Sessions
    /// are read-only by default; `writable` is for checks that install an extension (verify).
    static func start(context: EngineContext, from source: String, name: String, recovery: Recovery? = nil, writable: Bool = false) async throws -> ScratchServer {
        let subvolume = context.layout.work(name, "scratch")
        let sockets = context.layout.work(name, "sockets")
        try await context.storage.snapshot(from: source, to: subvolume, readOnly: false)
        do {
            let data = PoolLayout.dataDirectory(in: subvolume)
            let port = try await context.allocatePort()
            try Files.ensureDirectory(sockets, mode: 0o700, owner: ClusterFiles.superuser)
            try ClusterFiles.clearRuntimeFiles(dataDirectory: data)
            try Files.remove("\(data)/\(WALArchive.recoveryConfigName)")
            try Files.remove("\(data)/recovery.signal")
            try ClusterFiles.writeBranchSettings(
                .init(port: port, listenAddresses: "", socketDirectory: sockets, clusterName: "scratch-\(name)",
                      extra: ["logging_collector": "off", "archive_mode": "off", "default_transaction_read_only": writable ? "off" : "on",
                             // A copy of a mirror's data must never consume its source's slot.
                             "max_logical_replication_workers": "0"]),
                dataDirectory: data)
            let log = "\(sockets)/postgres.log"
            try Files.writeAtomically("", to: log, mode: 0o600, owner: ClusterFiles.superuser)
            let server = PostgresServer(installation: context.installation, dataDirectory: data, logFile: log)
            let scratch = ScratchServer(context: context, name: name, subvolume: subvolume, sockets: sockets, port: port, server: server)
            if let recovery {
                try await scratch.recover(recovery, from: source)
            } else {
                try await server.start(probe: scratch.connection(database: "postgres"), timeout: context.configuration.recoveryTimeout)
            }
            return scratch
        } catch {
            try? await context.storage.deleteSubvolume(at: subvolume)
            try? FileManager.default.removeItem(atPath: sockets)
            throw error
        }
    }

    /// Archive recovery up to the target, then paused there (a read-only view of that instant).
    /// When no transaction follows the target, Postgres cannot stop at it: the whole archive is
    /// replayed instead, which is the same state.
    private func recover(_ recovery: Recovery, from source: String) async throws {
        let data = PoolLayout.dataDirectory(in: subvolume)
        var target = recovery.recoveryTarget
        while true {
            var settings = WALArchive.recoverySettings(
                restoreDirectory: recovery.restoreWal, scriptDirectory: context.layout.scripts, target: target)
            settings = settings.replacingOccurrences(of: "recovery_target_action = 'promote'", with: "recovery_target_action = 'pause'")
            try Files.writeAtomically(settings, to: "\(data)/\(WALArchive.recoveryConfigName)", mode: 0o600, owner: ClusterFiles.superuser)
            try Files.writeAtomically("", to: "\(data)/recovery.signal", mode: 0o600, owner: ClusterFiles.superuser)
            let probe = connection(database: "postgres")
            do {
                try await server.start(probe: probe, timeout: context.configuration.recoveryTimeout)
                // Ready means consistent, not yet at the target: wait until replay paused there (or ended).
                let deadline = ContinuousClock.now + context.configuration.recoveryTimeout
                while ContinuousClock.now < deadline {
                    guard server.runningPID() != nil else { throw PostgresError(.postgresStartFailed, "the scratch server stopped during recovery") }
                    let state = try? await PGConnection.connect(probe).query(
                        "SELECT CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE 'promoted' END").scalar
                    if state == "paused" || state == "promoted" { return }
                    try await Task.sleep(for: .milliseconds(50))
                }
                throw PostgresError(.postgresStartFailed, "Recovery did not reach its target within \(context.configuration.recoveryTimeout).")
            } catch {
                let log = Files.read(server.logFile) ?? ""
                guard target != nil, log.contains("recovery ended before configured recovery target was reached") else { throw error }
                try? await server.stop()
                try await context.storage.deleteSubvolume(at: subvolume)
                try await context.storage.snapshot(from: source, to: subvolume, readOnly: false)
                try ClusterFiles.clearRuntimeFiles(dataDirectory: data)
                try ClusterFiles.writeBranchSettings(
                    .init(port: port, listenAddresses: "", socketDirectory: sockets, clusterName: "scratch-\(name)",
                          extra: ["logging_collector": "off", "archive_mode": "off", "default_transaction_read_only": "on",
                                  "max_logical_replication_workers": "0"]),
                    dataDirectory: data)
                target = nil
            }
        }
    }

    func connection(database: String) -> ConnectionInfo {
        ConnectionInfo(host: sockets, port: port, user: ClusterFiles.superuser, database: database)
    }

    var dataDirectory: String { PoolLayout.dataDirectory(in: subvolume) }

    func stop() async {
        try? await server.stop()
        try? await context.storage.deleteSubvolume(at: subvolume)
        try? FileManager.default.removeItem(atPath: sockets)
    }
}
