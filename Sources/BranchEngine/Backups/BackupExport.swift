import BranchBackup
import BranchCore
import BranchPostgres
import BranchStorage
import Foundation

extension Backups {
    /// A backup's project database as a logical export (pg_dump's SQL, or JSON Lines), readable
    /// without Branch: the chain is received and authenticated into the work area, a throw-away
    /// read-only Postgres is started on it, and the export is read from that server. Both are
    /// removed when the stream ends or is dropped; no project or branch is touched.
    package func export(_ id: String, format: ExportFormat, table: String?) async throws -> ExportStream {
        let (chain, key) = try await chain(for: id)
        let last = chain.last!
        try requireSameMajor(last, doing: "Export")
        let database = try secrets(of: last, key: key).database
        try await diskUsage.requireSpaceToGrow()
        let name = "export-\(Identifiers.shortID(length: 6))"
        let directory = layout.work(name, "receive")
        let scratch: ScratchServer
        do {
            let received = try await receive(chain, key: key, into: directory, progress: nil)
            scratch = try await ScratchServer.start(context: context, from: received, name: name)
        } catch {
            await removeReceived(directory)
            throw error
        }
        let backups = self
        return try await ExportStream.of(
            scratch.connection(database: database), described: "Backup \(id)", format: format, table: table, context: context
        ) {
            await scratch.stop()
            await backups.removeReceived(directory)
        }
    }
}
