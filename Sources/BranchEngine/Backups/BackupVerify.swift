import BranchBackup
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchStorage
import BranchSystem
import Foundation
import Logging

/// What verifying a backup found.
package struct VerifyReport: Sendable {
    package var backup: String
    package var chain: [String]
    package var chunksVerified: Int
    package var bytesVerified: UInt64
    package var tables: Int
    package var rows: UInt64
    package var indexesChecked: Int?
    package var ok: Bool
    package var durationMs: Double
}

extension Backups {
    /// Starts verifying a backup; returns its job at once.
    package func verify(_ id: String) async throws -> Job {
        let (chain, key) = try await chain(for: id)
        return context.jobs.start(kind: .backupVerify, project: chain.last?.project) { progress in
            let report = try await verifyAndRecord(chain: chain, key: key, progress: progress)
            progress.outcome(.verify(report))
            guard report.ok else { throw BackupError(.backupIntegrityFailed, "Backup \(id) restored, but its data did not check out.") }
            return .verify(report)
        }
    }

    /// Downloads and authenticates every chunk (by receiving the chain), starts a throw-away
    /// Postgres on a copy, reads every table and checks every B-tree index with amcheck, then
    /// removes it all.
    func runVerify(chain: [BackupManifest], key: BackupKey, progress: JobProgress) async throws -> VerifyReport {
        let work = layout.work(progress.id, "verify")
        do {
            let report = try await receiveAndCheck(chain, key: key, into: work, progress: progress)
            await removeReceived(work)
            return report
        } catch {
            await removeReceived(work)
            throw error
        }
    }

    private func receiveAndCheck(_ chain: [BackupManifest], key: BackupKey, into work: String, progress: JobProgress) async throws -> VerifyReport {
        let watch = Stopwatch()
        let received = try await receive(chain, key: key, into: work, progress: progress)
        progress.step("starting a scratch server")
        return try await withScratchServer(context, from: received, name: "\(progress.id)-verify", writable: true) { scratch in
            progress.step("reading every table")
            return try await check(scratch, chain: chain, watch: watch)
        }
    }

    /// Reads every table of every database and checks every B-tree index with amcheck.
    private func check(_ scratch: ScratchServer, chain: [BackupManifest], watch: Stopwatch) async throws -> VerifyReport {
        let probe = scratch.connection(database: "postgres")
        var tables = 0
        var rows: UInt64 = 0
        var indexes: Int?
        let databases = try await withConnection(probe) {
            try await $0.query("SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname")
        }
        for database in databases.rows.compactMap({ $0.first ?? nil }) {
            var info = probe
            info.database = database
            let connection = try await PGConnection.connect(info)
            defer { connection.close() }
            let relations = try await connection.query("""
                SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
                """)
            for relation in relations.rows.compactMap({ $0.first ?? nil }) {
                let count = try await connection.query("SELECT count(*) FROM \(relation)").scalar
                rows += UInt64(count ?? "0") ?? 0
                tables += 1
            }
            if (try? await connection.execute("CREATE EXTENSION IF NOT EXISTS amcheck")) != nil {
                let checked = try await connection.query("""
                    SELECT count(bt_index_check(c.oid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                    JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'btree' AND i.indisvalid
                    """)
                indexes = (indexes ?? 0) + (Int(checked.scalar ?? "0") ?? 0)
            }
        }
        return VerifyReport(
            backup: chain.last!.id, chain: chain.map(\.id), chunksVerified: chain.reduce(0) { $0 + $1.chunks.count },
            bytesVerified: chain.reduce(0) { $0 + UInt64($1.storedBytes) }, tables: tables, rows: rows, indexesChecked: indexes, ok: true,
            durationMs: watch.milliseconds)
    }
}
