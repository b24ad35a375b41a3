import BranchCore
import BranchPostgres
import Foundation
import Synchronization

/// Copies tables' rows from the source to the new project with parallel workers, each with its
/// own pair of connections: on the source a repeatable-read transaction that adopts the import's
/// exported snapshot (so every worker sees the same instant), on the target the superuser with
/// triggers off (`session_replication_role = replica`; constraints and indexes come after the
/// data). Largest tables first, so the last worker does not start the biggest one alone. Each
/// table is analyzed as soon as its rows are in.
struct TableCopier: Sendable {
    let source: ExternalDatabase
    let snapshot: String
    let target: ConnectionInfo
    let workers: Int
    let progress: ImportProgress

    func copy(_ tables: [ImportSource.Table]) async throws {
        let queue = TableQueue(tables.sorted { $0.bytes > $1.bytes })
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, min(workers, tables.count)) {
                group.addTask {
                    let from = try await source.connect()
                    defer { from.close() }
                    let into = try await PGConnection.connect(target)
                    defer { into.close() }
                    try await from.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    try await from.execute("SET TRANSACTION SNAPSHOT \(SQL.literal(snapshot))")
                    // Every row or an error, never rows filtered by a policy.
                    try await from.execute("SET row_security = off")
                    try await into.execute("SET session_replication_role = replica; SET synchronous_commit = off")
                    while let table = queue.next() {
                        try Task.checkCancellation()
                        try await copy(table, from: from, into: into)
                    }
                    try await from.execute("COMMIT")
                }
            }
            try await group.waitForAll()
        }
    }

    private func copy(_ table: ImportSource.Table, from: PGConnection, into: PGConnection) async throws {
        do {
            try await from.beginCopyOut("COPY \(table.qualified) (\(table.columns)) TO STDOUT")
            try await into.beginCopyIn("COPY \(table.qualified) (\(table.columns)) FROM STDIN")
            while let piece = try await from.readCopy() {
                try await into.writeCopy(piece)
                // COPY's text format ends every row with a newline and escapes the ones inside values.
                progress.copied(bytes: UInt64(piece.count), rows: UInt64(piece.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }))
            }
            try await into.endCopyIn()
            // Statistics now, while other workers still copy, rather than one ANALYZE of
            // everything at the end (a sixth of an import's time when it ran alone).
            try await into.execute("ANALYZE \(table.qualified)")
        } catch {
            let reason = error.message
            throw EngineError(.importFailed, "Copying the rows of \(table.schema).\(table.name) failed: \(reason)",
                              hint: "Nothing was kept. Fix the cause (its definition may not have restored: see the message), then import again.")
        }
        progress.finished(table)
    }
}

/// The tables no worker has taken yet.
final class TableQueue: Sendable {
    private let tables: Mutex<[ImportSource.Table]>

    init(_ tables: [ImportSource.Table]) { self.tables = Mutex(tables) }

    func next() -> ImportSource.Table? { tables.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
}

/// Counts of an import's copy, read by the job's progress as it goes.
final class ImportProgress: Sendable {
    struct Counts: Sendable {
        var tablesDone = 0
        var tablesTotal = 0
        var rows: UInt64 = 0
        var bytes: UInt64 = 0
        var bytesTotal: UInt64 = 0
    }

    private let counts = Mutex(Counts())
    private let started = ContinuousClock.now
    private let report: @Sendable (Counts, Double?) -> Void

    init(tables: [ImportSource.Table], report: @escaping @Sendable (Counts, Double?) -> Void) {
        counts.withLock {
            $0.tablesTotal = tables.count
            $0.bytesTotal = tables.reduce(0) { $0 + $1.bytes }
        }
        self.report = report
    }

    var snapshot: Counts { counts.withLock { $0 } }

    func copied(bytes: UInt64, rows: UInt64) {
        publish {
            $0.bytes += bytes
            $0.rows += rows
        }
    }

    func finished(_ table: ImportSource.Table) {
        publish {
            $0.tablesDone += 1
        }
    }

    /// Seconds left at the rate so far; nil before there is a rate. The total is the tables'
    /// size on disk, which COPY's text is close to (it over- or undershoots by a few tens of %).
    static func eta(_ counts: Counts, elapsed: Double) -> Double? {
        guard elapsed > 0.5, counts.bytes > 0 else { return nil }
        let rate = Double(counts.bytes) / elapsed
        return max(0, Double(counts.bytesTotal) - Double(counts.bytes)) / rate
    }

    private func publish(_ change: (inout Counts) -> Void) {
        let now = counts.withLock { counts -> Counts in
            change(&counts)
            return counts
        }
        let elapsed = (ContinuousClock.now - started) / .seconds(1)
        report(now, Self.eta(now, elapsed: elapsed))
    }
}
