import BranchCore
package import BranchPostgres
import Foundation

/// Compares one table on two servers. Each side is a connection already inside a repeatable-read,
/// read-only transaction with UTC and ISO settings, so every value has one text form.
package final class RowDiffer: Sendable {
    let first: PGConnection
    let second: PGConnection
    let settings: RowDiffSettings
    let pages: PageAccess?

    /// The data directories of both sides and their commit logs, when both servers were
    /// checkpointed after their reading snapshot (`prepare(_:checkpoint: true)`) and neither is
    /// in recovery: tables are then compared by their differing heap pages first.
    package struct PageAccess: Sendable {
        let firstDirectory: String
        let secondDirectory: String
        let firstLog: CommitLog
        let secondLog: CommitLog

        package init(firstDirectory: String, secondDirectory: String) async throws {
            self.firstDirectory = firstDirectory
            self.secondDirectory = secondDirectory
            async let first = CommitLog(dataDirectory: firstDirectory)
            async let second = CommitLog(dataDirectory: secondDirectory)
            (firstLog, secondLog) = try await (first, second)
        }
    }

    package init(first: PGConnection, second: PGConnection, settings: RowDiffSettings = RowDiffSettings(), pages: PageAccess? = nil) {
        self.first = first
        self.second = second
        self.settings = settings
        self.pages = pages
    }

    /// What `prepare` found in the reading snapshot.
    package struct Prepared: Sendable {
        /// Whether the server can be read by pages once checkpointed (it is not replaying WAL).
        package var readableByPages: Bool
        /// Names the schema this snapshot sees (see `SchemaSnapshotCache.stampSQL`); nil when
        /// the database cannot say.
        package var schemaStamp: String?
    }

    /// Puts a connection in the state a diff reads in: one repeatable-read snapshot, and with
    /// `checkpoint`, a checkpoint after it, so the data files hold everything the snapshot sees.
    @discardableResult
    package static func prepare(_ connection: PGConnection, checkpoint: Bool = false) async throws -> Prepared {
        try await connection.execute("""
            SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';
            SET extra_float_digits = 1; SET bytea_output = 'hex';
            BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY
            """)
        // The snapshot is taken by the first query, not by BEGIN: the stamp is read in it.
        let row = try await connection.query("SELECT pg_is_in_recovery(), \(SchemaSnapshotCache.stampSQL)").rows.first
        let prepared = Prepared(readableByPages: row?[0] != "t", schemaStamp: row?[1] ?? nil)
        // During recovery a CHECKPOINT is a restart point, which may flush nothing.
        if checkpoint && prepared.readableByPages { try await checkpointAfterPrepare(connection) }
        return prepared
    }

    /// The CHECKPOINT that lets a prepared session's server be read by pages (see `prepare`).
    package static func checkpointAfterPrepare(_ connection: PGConnection) async throws {
        try await connection.execute("CHECKPOINT")
    }

    /// What `compare` ended with.
    package struct Outcome: Sendable {
        package var summary: TableDiffSummary
        /// The position to resume from when `budget` ran out (key values, or the bucket for a multiset).
        package var resumeAfter: [String?]?
    }

    /// Emits every differing row of `table` in key order (after `resumeAfter`), at most `budget`
    /// of them (nil: all); with `emit` nil, only counts.
    package func compare(
        _ table: TableComparison, resumeAfter: [String?]? = nil, budget: Int? = nil,
        emit: ((RowDelta) async throws -> Void)?
    ) async throws -> Outcome {
        var state = State(table: table, budget: budget, emit: emit)
        if table.hasKey {
            try await compareByKey(&state, after: resumeAfter)
        } else {
            try await compareAsMultiset(&state, afterBucket: resumeAfter?.first.flatMap { $0 }.flatMap(Int.init))
        }
        return Outcome(
            summary: TableDiffSummary(
                table: table.table, added: state.added, removed: state.removed, changed: state.changed,
                method: !table.hasKey ? .multiset : state.pages == nil ? .primaryKey : .changedPages, complete: !state.stopped,
                pagesRead: state.pages?.read, pagesSkipped: state.pages?.skipped, tuplesCompared: state.pages?.tuples),
            resumeAfter: state.stopped ? state.lastPosition : nil)
    }

    struct State {
        let table: TableComparison
        let budget: Int?
        let emit: ((RowDelta) async throws -> Void)?
        var added = 0
        var removed = 0
        var changed = 0
        var emitted = 0
        var stopped = false
        var lastPosition: [String?]?
        /// Heap pages read and skipped, and tuples asked for, when the table was compared by pages.
        var pages: (read: Int, skipped: Int, tuples: Int)?

        var full: Bool { budget.map { emitted >= $0 } ?? false }
    }

    func emit(_ state: inout State, _ change: RowDelta, position: [String?]) async throws {
        state.emitted += 1
        state.lastPosition = position
        if let emit = state.emit { try await emit(change) }
    }

    /// Keys sent as one text array per key column (`parameters`, $1…), read back as a row source:
    /// `source` is `unnest($1::text[], …) AS u(k0, …)`, `columns` its columns as text and `typed`
    /// the same cast to the key columns' types.
    struct KeySet {
        let parameters: [String?]
        let source: String
        let columns: String
        let typed: String
    }

    func keySet(_ keys: [[String?]], _ table: TableComparison) -> KeySet {
        let names = table.keyColumns.indices.map { "k\($0)" }
        return KeySet(
            parameters: table.keyColumns.indices.map { index in "{" + keys.map { arrayElement($0[index]) }.joined(separator: ",") + "}" },
            source: "unnest(\(names.indices.map { "$\($0 + 1)::text[]" }.joined(separator: ", "))) AS u(\(names.joined(separator: ", ")))",
            columns: names.joined(separator: ", "),
            typed: names.enumerated().map { "\($1)::\(table.keyTypes[$0])" }.joined(separator: ", "))
    }

    /// Sorts keys the way Postgres orders them (collations and types included).
    func orderKeys(_ keys: [[String?]], _ table: TableComparison) async throws -> [[String?]] {
        let set = keySet(keys, table)
        return try await first.query("SELECT \(set.columns) FROM \(set.source) ORDER BY \(set.typed)", set.parameters).rows
    }

    /// Whole rows (shared columns, text form) for the given keys, by key string.
    package func rows(_ connection: PGConnection, _ table: TableComparison, keys: [[String?]]) async throws -> [String: [String: String?]] {
        let set = keySet(keys, table)
        let keyList = table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")
        let valueList = table.columns.map { "\($0)::text" }.joined(separator: ", ")
        let sql = """
            SELECT \(keyList)\(valueList.isEmpty ? "" : ", " + valueList) FROM \(table.table)
            WHERE \(table.keyTuple) IN (SELECT \(set.typed) FROM \(set.source))
            """
        var result: [String: [String: String?]] = [:]
        let width = table.keyColumns.count
        for row in try await connection.query(sql, set.parameters).rows {
            var values: [String: String?] = [:]
            for (index, name) in table.columnNames.enumerated() { values[name] = row[width + index] }
            result[Self.keyString(Array(row.prefix(width)))] = values
        }
        return result
    }

    /// One string per key, unambiguous: each value is length-prefixed, so no value's content can
    /// read as a separator or as the start of the next value.
    package static func keyString(_ key: [String?]) -> String {
        key.map { $0.map { "v\($0.utf8.count):" + $0 } ?? "n" }.joined(separator: "\u{1F}")
    }

    /// The API's view of a delta: added and removed rows whole, changed rows as their changed
    /// columns (json and jsonb ones also as a JSON patch).
    package static func change(_ delta: RowDelta, table: TableComparison) -> RowChange {
        switch delta.kind {
        case .added:
            return RowChange(table: table.table, kind: .added, key: delta.key, row: delta.new, count: table.hasKey ? nil : delta.count)
        case .removed:
            return RowChange(table: table.table, kind: .removed, key: delta.key, row: delta.old, count: table.hasKey ? nil : delta.count)
        case .changed:
            let columns = table.columnNames.compactMap { name -> ColumnChange? in
                let before = delta.old?[name] ?? nil
                let after = delta.new?[name] ?? nil
                guard before != after else { return nil }
                let patch = table.jsonColumns.contains(name) ? JSONPatch.diff(json(before), json(after)) : nil
                return ColumnChange(column: name, old: before, new: after, patch: patch)
            }
            return RowChange(table: table.table, kind: .changed, key: delta.key, columns: columns)
        }
    }

    static func json(_ text: String?) -> JSONValue? {
        guard let text, let data = text.data(using: .utf8) else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: data)
    }
}
