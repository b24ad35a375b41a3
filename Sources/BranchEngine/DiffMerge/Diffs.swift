import AsyncAlgorithms
import BranchBackup
import BranchCatalog
import BranchCore
package import BranchDiff
import BranchPostgres
import BranchStorage
import BranchSystem
import Foundation
import Logging

/// What to compare and what to include.
package struct DiffOptions: Sendable {
    /// Each side: a branch, a snapshot (id or name), `BRANCH@INSTANT` or `backup:ID`.
    package var from: String
    package var to: String
    /// Only these tables (`name` or `schema.name`), these schemas.
    package var tables: [String]?
    package var schemas: [String]?
    package var schemaOnly: Bool
    /// Counts per table, no rows.
    package var summary: Bool
    /// At most this many row changes; the end names a cursor to continue from.
    package var limit: Int?
    package var cursor: String?
    /// With `summary`: after the counts, the rows of this table (`*`: the most changed one), at
    /// most `limit`, so one diff answers both a page's counts and its first rows; when that table
    /// has modified rows, then how many changed each column (`DiffEvent.columns`).
    package var rowsOf: String?

    package init(
        from: String, to: String, tables: [String]? = nil, schemas: [String]? = nil, schemaOnly: Bool = false, summary: Bool = false,
        limit: Int? = nil, cursor: String? = nil, rowsOf: String? = nil
    ) {
        self.from = from
        self.to = to
        self.tables = tables
        self.schemas = schemas
        self.schemaOnly = schemaOnly
        self.summary = summary
        self.limit = limit
        self.cursor = cursor
        self.rowsOf = rowsOf
    }
}

/// The totals at the end of a diff.
package struct DiffTotals: Sendable, Equatable {
    package var from: String
    package var to: String
    package var schemaChanges = 0
    package var breakingChanges = 0
    package var rowsAdded = 0
    package var rowsRemoved = 0
    package var rowsChanged = 0
    /// Where to continue when `limit` cut the diff short; nil when it is complete.
    package var nextCursor: String?
    /// Bytes received from each side's server.
    package var bytesFromFirst: UInt64 = 0
    package var bytesFromSecond: UInt64 = 0
    package var durationMs: Double = 0
}

/// One result of a diff, in order: the schema changes, then per table its row changes and its
/// summary, then the totals.
package enum DiffEvent: Sendable {
    case schema(SchemaChange)
    case row(RowChange)
    case table(TableDiffSummary)
    /// With `rowsOf`: the chosen table's modified rows counted per changed column, after its rows.
    case columns(ColumnChangeCounts)
    case end(DiffTotals)
}

/// One side of a diff: where to read it; what was started for it is put away by whoever opened it.
struct DiffSide: Sendable {
    let label: String
    let connection: ConnectionInfo
    /// The server's data directory, readable by the service (every side is on the pool).
    let dataDirectory: String
    /// A branch's session key and server start in `SessionPool`: its sessions are reused. Nil for
    /// a scratch server, gone after the diff.
    var pooled: SessionPool.Target? = nil
}

/// Where a paginated diff resumes: the table and the position inside it.
struct DiffCursor: Codable {
    var table: String
    var position: [String?]

    var encoded: String { (try? JSONEncoder().encode(self))?.base64EncodedString() ?? "" }

    static func decode(_ text: String) throws -> DiffCursor {
        guard let data = Data(base64Encoded: text), let cursor = try? JSONDecoder().decode(DiffCursor.self, from: data) else {
            throw EngineError.invalidRequest("The cursor is not one this service gave out.", hint: "Use the nextCursor of a previous diff.")
        }
        return cursor
    }
}

/// Schema and row-level differences between two branches, snapshots, instants or backups.
package struct Diffs: EnginePart {
    let context: EngineContext

    /// Starts a diff and returns once both sides are open, so a side that does not exist or cannot
    /// be opened is an error here, before any result. The results are produced as the consumer
    /// reads them (a slow reader slows the diff; a few hundred results wait at most); dropping the
    /// stream cancels the diff, and whatever was started for its sides is removed in every case.
    package func start(project projectName: String, _ options: DiffOptions) async throws -> DiffStream {
        let project = try await catalog.read { try $0.requireProject(projectName) }
        if let limit = options.limit, limit < 1 { throw EngineError.invalidRequest("The limit must be at least 1.") }
        if options.rowsOf != nil && (!options.summary || options.cursor != nil || options.schemaOnly) {
            throw EngineError.invalidRequest(
                "rowsOf goes with summary, without a cursor or schemaOnly.",
                hint: "Continue a table's rows with its nextCursor in a diff of that table (tables: [name], cursor).")
        }
        let cursor = try options.cursor.map(DiffCursor.decode)
        let channel = AsyncThrowingChannel<[DiffEvent], any Error>()
        let opened = AsyncThrowingChannel<Void, any Error>()
        let gate = context.streamsClosed
        let producer = Task {
            do {
                try await withSides(options, project: project) { first, second in
                    await opened.send(())
                    opened.finish()
                    try await compare(options, first: first, second: second, cursor: cursor, into: channel)
                }
                channel.finish()
            } catch {
                let error = gate.isClosed ? EngineError.serviceStopping("the diff") : error
                opened.fail(error)
                channel.fail(error)
            }
        }
        let stream = DiffStream(channel: channel, producer: producer, gate: gate)
        // The first signal is "both sides open" or the error opening them.
        for try await _ in opened { break }
        return stream
    }

    /// Opens both sides of a diff, runs `body` with them, and puts away what was started for them.
    private func withSides<T: Sendable>(
        _ options: DiffOptions, project: ProjectRecord, _ body: (DiffSide, DiffSide) async throws -> T
    ) async throws -> T {
        let operation = "diff-" + Identifiers.shortID(length: 6)
        return try await withSide(options.from, project: project, operation: operation) { first in
            try await withSide(options.to, project: project, operation: operation) { second in
                try await body(first, second)
            }
        }
    }

    /// Opens a side of a diff: a live branch as it is; a snapshot, a branch at an instant or a
    /// backup through a throw-away read-only Postgres started for the diff.
    func withSide<T: Sendable>(
        _ spec: String, project: ProjectRecord, operation: String, _ body: (DiffSide) async throws -> T
    ) async throws -> T {
        let scratchName = "\(operation)-\(Identifiers.shortID(length: 4))"
        if spec.hasPrefix("backup:") {
            let id = String(spec.dropFirst("backup:".count))
            let (chain, key) = try await backups.chain(for: id)
            // Its database is named after its project, and its files must be this project's.
            guard let last = chain.last, last.project == project.name.rawValue else {
                throw EngineError(
                    .diffSideNotFound, "Backup \(id) is not a backup of project '\(project.name)'.",
                    hint: "List this project's backups with `branch backup list`; restore another project's backup as a branch first.")
            }
            try backups.requireSameMajor(last, doing: "Compare")
            let directory = layout.work(scratchName, "receive")
            do {
                let received = try await backups.receive(chain, key: key, into: directory, progress: nil)
                let result = try await withScratchServer(context, from: received, name: scratchName) { scratch in
                    try await body(DiffSide(label: spec, connection: scratch.connection(database: project.database), dataDirectory: scratch.dataDirectory))
                }
                await backups.removeReceived(directory)
                return result
            } catch {
                await backups.removeReceived(directory)
                throw error
            }
        }
        if let at = spec.lastIndex(of: "@") {
            let name = String(spec[..<at])
            guard let point = PastPoint.parse(String(spec[spec.index(after: at)...])) else {
                throw EngineError.invalidRequest(
                    "'\(spec[spec.index(after: at)...])' is not an instant or a WAL position.", hint: "Use BRANCH@2026-11-21T10:00:00Z or BRANCH@0/16B3748.")
            }
            let branch = try await catalog.read { try $0.requireBranch(project.name, name) }
            let (lineage, snapshot) = try await pointInTime.source(branch, at: point)
            if lineage.id == branch.lineage { try await pointInTime.archiveCurrentWAL(of: branch) }
            return try await withScratchServer(
                context, from: layout.snapshot(project.name, snapshot.id), name: scratchName,
                recovery: Recovery(restoreWal: layout.wal(project.name, lineage: lineage.id), target: point)
            ) { scratch in
                try await body(DiffSide(label: spec, connection: scratch.connection(database: project.database), dataDirectory: scratch.dataDirectory))
            }
        }
        let (branch, snapshot) = try await catalog.read { tx -> (BranchRecord?, SnapshotRecord?) in
            let branch = (try? ResourceName(validating: spec)).flatMap { try? tx.branch(project.name, $0) }
            return (branch, branch == nil ? try tx.snapshot(project.name, idOrName: spec) : nil)
        }
        if let branch {
            guard branch.state == .ready else { throw EngineError.notReady("Branch '\(spec)'", state: branch.state.rawValue) }
            try await servers.resumeIfSuspended(branch, cause: "a diff reads it")
            guard servers.isRunning(branch) else {
                throw EngineError(.branchStopped, "Branch '\(spec)' is stopped.", hint: "Start it with `branch start \(spec)`.")
            }
            let connection = servers.databaseConnection(branch, database: project.database)
            let side = DiffSide(
                label: spec, connection: connection, dataDirectory: PoolLayout.dataDirectory(in: layout.branch(project.name, branch.name)),
                pooled: await OwnerSessions(context: context).sessionTarget(connection, branch: branch, project: project))
            return try await servers.keepingAwake([branch]) { try await body(side) }
        }
        if let snapshot, snapshot.state == .ready {
            return try await withScratchServer(context, from: layout.snapshot(project.name, snapshot.id), name: scratchName) { scratch in
                try await body(DiffSide(label: spec, connection: scratch.connection(database: project.database), dataDirectory: scratch.dataDirectory))
            }
        }
        throw EngineError(
            .diffSideNotFound, "'\(spec)' is not a branch, a snapshot, a branch at an instant or WAL position, or a backup of project '\(project.name)'.",
            hint: "Use a branch (main), a snapshot id or name, main@2026-11-21T10:00:00Z, main@0/16B3748, or backup:ID.")
    }

    /// Compares the two open sides and sends the results in batches.
    private func compare(
        _ options: DiffOptions, first: DiffSide, second: DiffSide, cursor: DiffCursor?, into channel: AsyncThrowingChannel<[DiffEvent], any Error>
    ) async throws {
        let watch = Stopwatch()
        try await withSession(first) { left in
            try await withSession(second) { right in
                try await compare(options, first: first, second: second, left: left, right: right, cursor: cursor, watch: watch, into: channel)
                // The reading transactions end here, so both sessions go back to the pool clean.
                async let leftEnd = left.execute("ROLLBACK")
                async let rightEnd = right.execute("ROLLBACK")
                _ = try await (leftEnd, rightEnd)
            }
        }
    }

    /// A session to `side`: a branch's from the session pool, a scratch server's new.
    private func withSession(_ side: DiffSide, _ body: (PGConnection) async throws -> Void) async throws {
        guard let pooled = side.pooled else { return try await withConnection(side.connection, body) }
        try await context.sessionPool.withSession(side.connection, pooled, body)
    }

    private func compare(
        _ options: DiffOptions, first: DiffSide, second: DiffSide, left: PGConnection, right: PGConnection, cursor: DiffCursor?,
        watch: Stopwatch, into channel: AsyncThrowingChannel<[DiffEvent], any Error>
    ) async throws {
        var batch = EventBatch(channel: channel)
        let bytesBefore = (left.bytesReceived, right.bytesReceived)
        async let leftReady = RowDiffer.prepare(left)
        async let rightReady = RowDiffer.prepare(right)
        let (leftPrepared, rightPrepared) = try await (leftReady, rightReady)
        let readable = (leftPrepared.readableByPages, rightPrepared.readableByPages)
        async let a = schemaSnapshot(left, first, leftPrepared, options)
        async let b = schemaSnapshot(right, second, rightPrepared, options)
        let (before, after) = try await (a, b)
        func included(_ table: String) -> Bool {
            options.tables.map { Self.names(table, among: $0) } ?? true
        }
        let tables = before.tables.filter { table in after.table(table.qualifiedName) != nil && included(table.qualifiedName) }
        // Small tables are fingerprinted all at once, and those alike on both sides not compared
        // further. Checkpointed after their snapshots, both sides' files can be compared page by
        // page; the checkpoints are paid only where a table is large enough for that to save time.
        var pages: RowDiffer.PageAccess?
        var unchanged: Set<String> = []
        if !options.schemaOnly {
            let probe = RowDiffer(first: left, second: right)
            let sizes = try await probe.sizes(tables.map(\.qualifiedName))
            // A resumed diff reads only the tables after its cursor's.
            let ahead = tables.filter { table in cursor.map { $0.table < table.qualifiedName } ?? true }
            unchanged = try await probe.unchanged(ahead.map { TableComparison(from: $0, to: after.table($0.qualifiedName)!) }, sizes: sizes)
            if readable == (true, true), sizes.values.contains(where: { $0 >= RowDiffer.smallTableBytes }) {
                async let leftCheckpoint: Void = RowDiffer.checkpointAfterPrepare(left)
                async let rightCheckpoint: Void = RowDiffer.checkpointAfterPrepare(right)
                _ = try await (leftCheckpoint, rightCheckpoint)
                pages = try? await RowDiffer.PageAccess(firstDirectory: first.dataDirectory, secondDirectory: second.dataDirectory)
            }
        }
        var totals = DiffTotals(from: first.label, to: second.label)
        if cursor == nil {
            for change in SchemaDiff.compare(before, after) where included(Self.tableOf(change.name)) {
                totals.schemaChanges += 1
                if change.classification == .breaking { totals.breakingChanges += 1 }
                try await batch.add(.schema(change))
            }
        }
        if !options.schemaOnly {
            var changed: [(table: TableSchema, total: Int, modified: Int)] = []
            let differ = RowDiffer(first: left, second: right, pages: pages)
            // With rowsOf, the limit is for the chosen table's rows after the counts.
            var budget = options.rowsOf != nil ? nil : options.limit
            for table in tables {
                if let cursor, table.qualifiedName < cursor.table { continue }
                try Task.checkCancellation()
                let comparison = TableComparison(from: table, to: after.table(table.qualifiedName)!)
                let resume = cursor.flatMap { $0.table == table.qualifiedName && !$0.position.isEmpty ? $0.position : nil }
                // A summary needs counts only: rows in differing segments are then hashed, not fetched.
                let outcome: RowDiffer.Outcome
                if unchanged.contains(table.qualifiedName) {
                    outcome = RowDiffer.unchangedOutcome(comparison)
                } else if options.summary {
                    outcome = try await differ.compare(comparison, resumeAfter: resume, budget: nil, emit: nil)
                } else {
                    outcome = try await differ.compare(comparison, resumeAfter: resume, budget: budget) { delta in
                        try await batch.add(.row(RowDiffer.change(delta, table: comparison)))
                    }
                }
                totals.rowsAdded += outcome.summary.added
                totals.rowsRemoved += outcome.summary.removed
                totals.rowsChanged += outcome.summary.changed
                changed.append((table, outcome.summary.added + outcome.summary.removed + outcome.summary.changed, outcome.summary.changed))
                try await batch.add(.table(outcome.summary))
                try await batch.flush()
                if let position = outcome.resumeAfter {
                    totals.nextCursor = DiffCursor(table: table.qualifiedName, position: position).encoded
                    break
                }
                if let remaining = budget {
                    budget = remaining - (outcome.summary.added + outcome.summary.removed + outcome.summary.changed)
                    if budget! <= 0 {
                        if let next = tables.first(where: { $0.qualifiedName > table.qualifiedName }) {
                            totals.nextCursor = DiffCursor(table: next.qualifiedName, position: []).encoded
                        }
                        break
                    }
                }
            }
            if let wanted = options.rowsOf {
                // The chosen table's rows, read again on the same snapshots now that its counts are known.
                let chosen = wanted == "*"
                    ? changed.filter { $0.total > 0 }.max { $0.total != $1.total ? $0.total < $1.total : $0.table.qualifiedName > $1.table.qualifiedName }?.table
                    : changed.first { Self.names($0.table.qualifiedName, among: [wanted]) }?.table
                if let chosen, let theirs = after.table(chosen.qualifiedName) {
                    let comparison = TableComparison(from: chosen, to: theirs)
                    let modified = changed.first { $0.table.qualifiedName == chosen.qualifiedName }?.modified ?? 0
                    let position: [String?]?
                    if modified > 0 && comparison.hasKey {
                        position = try await rowsCountingColumns(comparison, differ: differ, limit: options.limit, into: &batch)
                    } else {
                        position = try await differ.compare(comparison, budget: options.limit) { delta in
                            try await batch.add(.row(RowDiffer.change(delta, table: comparison)))
                        }.resumeAfter
                    }
                    if let position {
                        totals.nextCursor = DiffCursor(table: chosen.qualifiedName, position: position).encoded
                    }
                }
            }
        }
        totals.bytesFromFirst = left.bytesReceived - bytesBefore.0
        totals.bytesFromSecond = right.bytesReceived - bytesBefore.1
        totals.durationMs = watch.milliseconds
        try await batch.add(.end(totals))
        try await batch.flush()
    }

    /// Modified rows counted per column for the "values changed" counts: the first this many of a
    /// table (in key order), so a page over a huge diff stays quick and says its counts are partial.
    static let columnCountLimit = 10_000

    /// `comparison`'s first `limit` changes sent as rows, and up to `columnCountLimit` changes read
    /// to count the columns its modified rows changed (sent after the rows). Returns where the rows
    /// continue, when they do.
    private func rowsCountingColumns(
        _ comparison: TableComparison, differ: RowDiffer, limit: Int?, into batch: inout EventBatch
    ) async throws -> [String?]? {
        var tally = ColumnTally(comparison)
        var sent = 0
        var lastSent: [String?]?
        var more = false
        var rows = batch
        let outcome = try await differ.compare(comparison, budget: Self.columnCountLimit) { delta in
            tally.add(delta)
            if let limit, sent >= limit {
                more = true
                return
            }
            sent += 1
            lastSent = delta.keyValues
            try await rows.add(.row(RowDiffer.change(delta, table: comparison)))
        }
        batch = rows
        try await batch.add(.columns(tally.counts(complete: outcome.resumeAfter == nil)))
        return more ? lastSent : outcome.resumeAfter
    }

    /// `side`'s schema: a branch server's from the cache while its schema is unchanged, a scratch
    /// server's (gone after the diff) read.
    private func schemaSnapshot(
        _ connection: PGConnection, _ side: DiffSide, _ prepared: RowDiffer.Prepared, _ options: DiffOptions
    ) async throws -> SchemaSnapshot {
        guard let pooled = side.pooled else { return try await SchemaIntrospector.snapshot(connection, schemas: options.schemas) }
        return try await context.schemaSnapshots.snapshot(
            connection, server: "\(pooled.key)@\(pooled.generation)", stamp: prepared.schemaStamp, schemas: options.schemas)
    }

    /// Whether `names` (as a request gives tables: `schema.table`, or a name in `public`) include
    /// the table `qualified` (`schema.table`, quoted where Postgres quotes it).
    static func names(_ qualified: String, among names: [String]) -> Bool {
        let wanted = Set(names.flatMap { name in [name, "public.\(name)"] })
        return wanted.contains(qualified) || wanted.contains(qualified.replacingOccurrences(of: "\"", with: ""))
    }

    /// The table a schema change belongs to (`schema.table` of `schema.table.column`).
    static func tableOf(_ name: String) -> String {
        let parts = name.split(separator: ".")
        return parts.count >= 2 ? "\(parts[0]).\(parts[1])" : name
    }
}

/// Results gathered into batches before they cross to the consumer, so a diff of millions of
/// rows is not millions of handovers.
private struct EventBatch {
    let channel: AsyncThrowingChannel<[DiffEvent], any Error>
    var events: [DiffEvent] = []

    mutating func add(_ event: DiffEvent) async throws {
        events.append(event)
        if events.count >= 256 { try await flush() }
    }

    mutating func flush() async throws {
        guard !events.isEmpty else { return }
        let full = events
        events.removeAll(keepingCapacity: true)
        await channel.send(full)
        // `send` returns without delivering once the consumer has gone.
        try Task.checkCancellation()
    }
}

/// A running diff's results, in order. Dropping it (a client hanging up) cancels the diff, and so
/// does the service beginning to shut down (the stream then ends with `service_stopping`).
package final class DiffStream: AsyncSequence, Sendable {
    package typealias Element = [DiffEvent]

    private let channel: AsyncThrowingChannel<[DiffEvent], any Error>
    private let producer: Task<Void, Never>
    private let gate: StreamGate
    private let closing: Int?

    init(channel: AsyncThrowingChannel<[DiffEvent], any Error>, producer: Task<Void, Never>, gate: StreamGate) {
        self.channel = channel
        self.producer = producer
        self.gate = gate
        closing = gate.onClose { producer.cancel() }
    }

    deinit {
        producer.cancel()
        gate.remove(closing)
    }

    package func makeAsyncIterator() -> Iterator { Iterator(owner: self, base: channel.makeAsyncIterator()) }

    package struct Iterator: AsyncIteratorProtocol {
        /// Keeps the diff running while it is being read.
        let owner: DiffStream
        var base: AsyncThrowingChannel<[DiffEvent], any Error>.Iterator

        package mutating func next() async throws -> [DiffEvent]? { try await base.next() }
    }
}
