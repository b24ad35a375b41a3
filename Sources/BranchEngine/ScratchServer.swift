import BranchCore
import BranchPostgres
import BranchStorage
import Foundation

/// A throw-away Postgres on a writable copy of a snapshot or received backup, for reading old
/// data without disturbing any branch: run as a plain process on a free port with its own socket
/// directory, no archiving, logs in the work area. `stop()` removes everything it made.
struct ScratchServer {
    let engine: Engine
    let name: String
    let subvolume: String
    let sockets: String
    let port: Int
    let server: PostgresServer

    /// Copies `source` (a read-only subvolume) and starts a server on the copy.
    static func start(engine: Engine, from source: String, name: String) async throws -> ScratchServer {
        let subvolume = engine.layout.work(name, "scratch")
        let sockets = engine.layout.work(name, "sockets")
        try engine.storage.snapshot(from: source, to: subvolume, readOnly: false)
        do {
            let data = PoolLayout.dataDirectory(in: subvolume)
            let port = try await engine.allocatePort()
            try Files.ensureDirectory(sockets, mode: 0o700, owner: ClusterFiles.superuser)
            try ClusterFiles.clearRuntimeFiles(dataDirectory: data)
            try Files.remove("\(data)/\(WALArchive.recoveryConfigName)")
            try Files.remove("\(data)/recovery.signal")
            try ClusterFiles.writeBranchSettings(
                .init(port: port, listenAddresses: "", socketDirectory: sockets, clusterName: "scratch-\(name)",
                      extra: ["logging_collector": "off", "archive_mode": "off"]),
                dataDirectory: data)
            let log = "\(sockets)/postgres.log"
            try Files.writeAtomically("", to: log, mode: 0o600, owner: ClusterFiles.superuser)
            let server = PostgresServer(installation: engine.installation, dataDirectory: data, logFile: log)
            let scratch = ScratchServer(engine: engine, name: name, subvolume: subvolume, sockets: sockets, port: port, server: server)
            try await server.start(probe: scratch.connection(database: "postgres"), timeout: engine.configuration.recoveryTimeout)
            return scratch
        } catch {
            try? engine.storage.deleteSubvolume(at: subvolume)
            try? FileManager.default.removeItem(atPath: sockets)
            throw error
        }
    }

    func connection(database: String) -> ConnectionInfo {
        ConnectionInfo(host: sockets, port: port, user: ClusterFiles.superuser, database: database)
    }

    func stop() async {
        try? await server.stop()
        try? engine.storage.deleteSubvolume(at: subvolume)
        try? FileManager.default.removeItem(atPath: sockets)
    }
}
