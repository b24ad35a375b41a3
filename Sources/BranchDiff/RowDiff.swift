public import BranchCore
public import BranchPostgres
import Foundation

/// How a table is compared: which columns, which key.
public struct TableComparison: Sendable {
    /// `schema.table`, quoted where needed.
    public let table: String
    /// Quoted key column names and their types; empty for a table without a primary key.
    public let keyColumns: [String]
    public let keyNames: [String]
    public let keyTypes: [String]
    /// Quoted names of the columns both sides have, and their plain names, in the first side's order.
    public let columns: [String]
    public let columnNames: [String]
    /// Plain names of json and jsonb columns (their changes also come as JSON patches).
    public let jsonColumns: Set<String>

    public init(from: TableSchema, to: TableSchema) {
        table = from.qualifiedName
        let shared = from.columns.filter { column in to.column(column.name) != nil }
        columnNames = shared.map(\.name)
        columns = shared.map { SQLName.quote($0.name) }
        // A JSON patch only where both sides hold JSON (not where text became jsonb).
        let isJSON: (String?) -> Bool = { $0 == "jsonb" || $0 == "json" }
        jsonColumns = Set(shared.filter { isJSON($0.type) && isJSON(to.column($0.name)?.type) }.map(\.name))
        // Rows are matched by key only when both sides have the same primary key.
        if let key = from.primaryKey, key == to.primaryKey, !key.isEmpty {
            keyNames = key
            keyColumns = key.map(SQLName.quote)
            keyTypes = key.map { name in from.column(name)?.type ?? "text" }
        } else {
            keyNames = []
            keyColumns = []
            keyTypes = []
        }
    }

    var hasKey: Bool { !keyColumns.isEmpty }
    var keyTuple: String { keyColumns.count == 1 ? keyColumns[0] : "(\(keyColumns.joined(separator: ", ")))" }
    var keyOrder: String { keyColumns.joined(separator: ", ") }
    /// A 64-bit hash of the shared columns' text forms (exact: NULL and '' differ, jsonb is normalized).
    var rowHash: String {
        columns.isEmpty ? "0::bigint" : "hashtextextended(row(\(columns.joined(separator: ", ")))::text, 0)"
    }
    var isIntegerKey: Bool { keyTypes.count == 1 && ["integer", "bigint", "smallint"].contains(keyTypes[0]) }
}

/// One row that differs, as users see it: added (only in the second side), removed (only in the
/// first), or changed (same key, other values, as the changed columns). Values are Postgres' text
/// form; nil is NULL.
public struct RowChange: Sendable, Equatable {
    public var table: String
    public var kind: RowDelta.Kind
    /// The primary key (column → value); empty for a table without one.
    public var key: [String: String?]
    /// The whole row, for added and removed rows.
    public var row: [String: String?]?
    public var columns: [ColumnChange]?
    /// For tables without a primary key: how many copies of this row were added or removed.
    public var count: Int?

    public init(
        table: String, kind: RowDelta.Kind, key: [String: String?], row: [String: String?]? = nil, columns: [ColumnChange]? = nil,
        count: Int? = nil
    ) {
        self.table = table
        self.kind = kind
        self.key = key
        self.row = row
        self.columns = columns
        self.count = count
    }
}

/// One changed column of a changed row; for json and jsonb columns also as JSON-patch operations.
public struct ColumnChange: Sendable, Equatable {
    public var column: String
    public var old: String?
    public var new: String?
    public var patch: [JSONPatchOperation]?

    public init(column: String, old: String?, new: String?, patch: [JSONPatchOperation]? = nil) {
        self.column = column
        self.old = old
        self.new = new
        self.patch = patch
    }
}

/// How a table's rows were compared.
public enum TableDiffMethod: String, Sendable {
    /// Rows matched by primary key, by checksums of key ranges.
    case primaryKey = "primary key"
    /// Rows matched by primary key, reading only the heap pages that differ.
    case changedPages = "primary key, changed pages"
    /// No primary key: whole rows compared as a multiset.
    case multiset
}

/// Counts of one table's row differences.
public struct TableDiffSummary: Sendable, Equatable {
    public var table: String
    public var added: Int
    public var removed: Int
    public var changed: Int
    public var method: TableDiffMethod
    /// Whether the counts are complete (false when the budget stopped the diff inside this table).
    public var complete: Bool
    /// When compared by heap pages: pages (both sides) read and compared, and skipped unread
    /// (the same extents on both sides, all-visible); tuples asked for by tuple id.
    public var pagesRead: Int?
    public var pagesSkipped: Int?
    public var tuplesCompared: Int?

    public init(
        table: String, added: Int, removed: Int, changed: Int, method: TableDiffMethod, complete: Bool, pagesRead: Int? = nil,
        pagesSkipped: Int? = nil, tuplesCompared: Int? = nil
    ) {
        self.table = table
        self.added = added
        self.removed = removed
        self.changed = changed
        self.method = method
        self.complete = complete
        self.pagesRead = pagesRead
        self.pagesSkipped = pagesSkipped
        self.tuplesCompared = tuplesCompared
    }
}

/// One differing row as the differ found it: the full rows (shared columns, text form) on each side.
public struct RowDelta: Sendable {
    public enum Kind: String, Sendable { case added, removed, changed }
    public var kind: Kind
    /// Key column → value (empty for a table without a primary key).
    public var key: [String: String?]
    public var keyValues: [String?]
    public var old: [String: String?]?
    public var new: [String: String?]?
    /// Copies added or removed (tables without a primary key); 1 otherwise.
    public var count: Int

    public init(kind: Kind, key: [String: String?], keyValues: [String?], old: [String: String?]?, new: [String: String?]?, count: Int = 1) {
        self.kind = kind
        self.key = key
        self.keyValues = keyValues
        self.old = old
        self.new = new
        self.count = count
    }
}

/// The sizes the bisection works with (data-diff's approach): checksum the table in segments on
/// both servers, split the segments that differ, and fetch rows only from segments small enough.
public struct RowDiffSettings: Sendable {
    /// Segments of the first pass over a table.
    public var firstSegments = 64
    /// Sub-segments a differing segment is split into.
    public var fanout = 16
    /// A differing segment with at most this many rows on either side is fetched (key and hash per
    /// row), not split further.
    public var fetchThreshold = 2_000
    /// Rows of one table below which it is fetched at once.
    public var smallTable = 4_000
    /// With page access: at most this many heap tuples that may differ (both sides together) are
    /// read directly by their tuple ids; beyond that the table is compared by checksums.
    public var tupleLimit = 4_000_000
    /// With page access: when more rows than this moved between pages (looked up by key on the
    /// other side), as in a rewrite of the whole table, checksums are cheaper.
    public var movedRowLimit = 500_000

    public init() {}
}

/// Compares one table on two servers. Each side is a connection already inside a repeatable-read,
/// read-only transaction with UTC and ISO settings, so every value has one text form.
public final class RowDiffer: Sendable {
    let first: PGConnection
    let second: PGConnection
    let settings: RowDiffSettings
    let pages: PageAccess?

    /// The data directories of both sides and their commit logs, when both servers were
    /// checkpointed after their reading snapshot (`prepare(_:checkpoint: true)`) and neither is
    /// in recovery: tables are then compared by their differing heap pages first.
    public struct PageAccess: Sendable {
        let firstDirectory: String
        let secondDirectory: String
        let firstLog: CommitLog
        let secondLog: CommitLog

        public init(firstDirectory: String, secondDirectory: String) async throws {
            self.firstDirectory = firstDirectory
            self.secondDirectory = secondDirectory
            async let first = CommitLog(dataDirectory: firstDirectory)
            async let second = CommitLog(dataDirectory: secondDirectory)
            (firstLog, secondLog) = try await (first, second)
        }
    }

    public init(first: PGConnection, second: PGConnection, settings: RowDiffSettings = RowDiffSettings(), pages: PageAccess? = nil) {
        self.first = first
        self.second = second
        self.settings = settings
        self.pages = pages
    }

    /// Puts a connection in the state a diff reads in: one repeatable-read snapshot, and with
    /// `checkpoint`, a checkpoint after it, so the data files hold everything the snapshot sees.
    /// Returns whether the server can be read by pages (it is not replaying WAL).
    @discardableResult
    public static func prepare(_ connection: PGConnection, checkpoint: Bool = false) async throws -> Bool {
        try await connection.execute("""
            SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres';
            SET extra_float_digits = 1; SET bytea_output = 'hex';
            BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY
            """)
        // The snapshot is taken by the first query, not by BEGIN.
        let inRecovery = try await connection.query("SELECT pg_is_in_recovery()").scalar == "t"
        // During recovery a CHECKPOINT is a restart point, which may flush nothing.
        guard checkpoint, !inRecovery else { return false }
        try await connection.execute("CHECKPOINT")
        return true
    }

    /// What `compare` ended with.
    public struct Outcome: Sendable {
        public var summary: TableDiffSummary
        /// The position to resume from when `budget` ran out (key values, or the bucket for a multiset).
        public var resumeAfter: [String?]?
    }

    /// Emits every differing row of `table` in key order (after `resumeAfter`), at most `budget`
    /// of them (nil: all); with `emit` nil, only counts.
    public func compare(
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

    // MARK: Tables with a primary key

    /// A half-open key range: from `lower` (inclusive) to `upper` (exclusive); nil is unbounded.
    struct Range {
        var lower: [String?]?
        var upper: [String?]?
        /// Exclusive lower bound (the resume position).
        var after: [String?]?
    }

    func condition(_ range: Range, _ table: TableComparison, parameters: inout [String?]) -> String {
        var parts: [String] = []
        func tuple(_ values: [String?]) -> String {
            let placeholders = values.enumerated().map { index, value in
                parameters.append(value)
                return "$\(parameters.count)::\(table.keyTypes[index])"
            }
            return placeholders.count == 1 ? placeholders[0] : "(\(placeholders.joined(separator: ", ")))"
        }
        if let lower = range.lower { parts.append("\(table.keyTuple) >= \(tuple(lower))") }
        if let upper = range.upper { parts.append("\(table.keyTuple) < \(tuple(upper))") }
        if let after = range.after { parts.append("\(table.keyTuple) > \(tuple(after))") }
        return parts.isEmpty ? "TRUE" : parts.joined(separator: " AND ")
    }

    func compareByKey(_ state: inout State, after: [String?]?) async throws {
        let table = state.table
        if let pages, let found = try await changedPages(table, pages), try await compareCandidates(&state, found, after: after) {
            return
        }
        let whole = Range(lower: nil, upper: nil, after: after)
        let estimate = try await estimatedRows(table)
        if estimate <= Double(settings.smallTable) {
            try await fetchAndEmit(&state, whole)
            return
        }
        let boundaries = try await splitPoints(table, whole, parts: settings.firstSegments, estimate: estimate)
        try await bisect(&state, whole, boundaries: boundaries)
    }

    /// Compares `range` split at `boundaries`, recursing into differing parts in key order.
    func bisect(_ state: inout State, _ range: Range, boundaries: [[String?]]) async throws {
        let table = state.table
        let parts = segments(of: range, at: boundaries)
        async let firstSums = checksums(first, table, parts, boundaries: boundaries, range: range)
        async let secondSums = checksums(second, table, parts, boundaries: boundaries, range: range)
        let (a, b) = try await (firstSums, secondSums)
        for (index, part) in parts.enumerated() {
            if state.stopped { return }
            let left = a[index] ?? (0, 0)
            let right = b[index] ?? (0, 0)
            if left == right { continue }
            if max(left.count, right.count) <= settings.fetchThreshold {
                try await fetchAndEmit(&state, part)
            } else {
                let larger = left.count >= right.count ? first : second
                let points = try await sampledKeys(larger, table, part, count: max(left.count, right.count), parts: settings.fanout)
                if points.isEmpty {
                    try await fetchAndEmit(&state, part)
                } else {
                    try await bisect(&state, part, boundaries: points)
                }
            }
        }
    }

    func segments(of range: Range, at boundaries: [[String?]]) -> [Range] {
        var parts: [Range] = []
        var lower = range.lower
        for boundary in boundaries {
            parts.append(Range(lower: lower, upper: boundary, after: range.after))
            lower = boundary
        }
        parts.append(Range(lower: lower, upper: range.upper, after: range.after))
        return parts
    }

    /// Row count and XOR of row hashes per part: one grouped scan with width_bucket for a single
    /// key column, one query per part for a composite key.
    func checksums(
        _ connection: PGConnection, _ table: TableComparison, _ parts: [Range], boundaries: [[String?]], range: Range
    ) async throws -> [Int: (count: Int, hash: Int64)] {
        var result: [Int: (count: Int, hash: Int64)] = [:]
        if table.keyColumns.count == 1 {
            var parameters: [String?] = []
            let within = condition(range, table, parameters: &parameters)
            parameters.append("{" + boundaries.map { arrayElement($0[0]) }.joined(separator: ",") + "}")
            let sql = """
                SELECT width_bucket(\(table.keyColumns[0]), $\(parameters.count)::\(table.keyTypes[0])[]), count(*), bit_xor(\(table.rowHash))
                FROM \(table.table) WHERE \(within) GROUP BY 1
                """
            for row in try await connection.query(sql, parameters).rows {
                guard let bucket = row[0].flatMap(Int.init) else { continue }
                result[bucket] = (Int(row[1] ?? "0") ?? 0, Int64(row[2] ?? "0") ?? 0)
            }
            return result
        }
        for (index, part) in parts.enumerated() {
            var parameters: [String?] = []
            let sql = "SELECT count(*), bit_xor(\(table.rowHash)) FROM \(table.table) WHERE \(condition(part, table, parameters: &parameters))"
            let row = try await connection.query(sql, parameters).rows.first ?? []
            result[index] = (Int(row.first.flatMap { $0 } ?? "0") ?? 0, Int64(row.last.flatMap { $0 } ?? "0") ?? 0)
        }
        return result
    }

    func arrayElement(_ value: String?) -> String {
        guard let value else { return "NULL" }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    func estimatedRows(_ table: TableComparison) async throws -> Double {
        let sql = "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = $1::regclass"
        async let a = first.query(sql, [table.table]).scalar
        async let b = second.query(sql, [table.table]).scalar
        let (x, y) = try await (a, b)
        let estimate = max(Double(x ?? "0") ?? 0, Double(y ?? "0") ?? 0)
        // A never-analyzed table reports 0 or -1: count it to be sure.
        if estimate <= 0 {
            async let c = first.query("SELECT count(*) FROM \(table.table)").scalar
            async let d = second.query("SELECT count(*) FROM \(table.table)").scalar
            let (p, q) = try await (c, d)
            return max(Double(p ?? "0") ?? 0, Double(q ?? "0") ?? 0)
        }
        return estimate
    }

    /// About `parts - 1` keys splitting the table evenly: arithmetic for an integer key,
    /// otherwise a sample read in key order.
    func splitPoints(_ table: TableComparison, _ range: Range, parts: Int, estimate: Double) async throws -> [[String?]] {
        if table.isIntegerKey {
            let sql = "SELECT min(\(table.keyColumns[0]))::text, max(\(table.keyColumns[0]))::text FROM \(table.table)"
            async let a = first.query(sql).rows.first
            async let b = second.query(sql).rows.first
            let (x, y) = try await (a, b)
            let lows = [x?[0], y?[0]].compactMap { $0 ?? nil }.compactMap { Int64($0) }
            let highs = [x?[1], y?[1]].compactMap { $0 ?? nil }.compactMap { Int64($0) }
            guard let low = lows.min(), let high = highs.max(), high > low else { return [] }
            let step = max(1, (high - low) / Int64(parts))
            let points: [Int64] = Array(stride(from: low + step, through: high, by: Int(step)))
            return points.prefix(parts - 1).map { [String($0)] }
        }
        let percent = min(100, max(0.01, 100 * Double(parts * 50) / max(estimate, 1)))
        let keys = table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")
        let rows = try await first.query(
            "SELECT \(keys) FROM \(table.table) TABLESAMPLE SYSTEM (\(percent)) ORDER BY \(table.keyOrder)").rows
        guard rows.count > parts else { return rows.count > 1 ? Array(rows.dropFirst()) : [] }
        let step = rows.count / parts
        return stride(from: step, to: rows.count, by: step).map { rows[$0] }
    }

    /// Keys splitting a part evenly, read from the side with more rows in it.
    func sampledKeys(_ connection: PGConnection, _ table: TableComparison, _ part: Range, count: Int, parts: Int) async throws -> [[String?]] {
        if table.isIntegerKey, let lower = part.lower?.first.flatMap({ $0 }).flatMap(Int64.init),
            let upper = part.upper?.first.flatMap({ $0 }).flatMap(Int64.init), upper - lower > Int64(parts)
        {
            let step = (upper - lower) / Int64(parts)
            let points: [Int64] = Array(stride(from: lower + step, to: upper, by: Int(step)))
            return points.prefix(parts - 1).map { [String($0)] }
        }
        var parameters: [String?] = []
        let within = condition(part, table, parameters: &parameters)
        let keys = table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")
        let step = max(1, count / parts)
        let sql = """
            SELECT \(table.keyColumns.indices.map { "k\($0)" }.joined(separator: ", ")) FROM (
                SELECT \(table.keyColumns.enumerated().map { "\($1)::text AS k\($0)" }.joined(separator: ", ")),
                       row_number() OVER (ORDER BY \(table.keyOrder)) AS position
                FROM \(table.table) WHERE \(within)) numbered
            WHERE position % \(step) = 0 ORDER BY position
            """
        _ = keys
        return try await connection.query(sql, parameters).rows
    }

    /// Reads key and hash of every row of a small part on both sides, then the differing rows,
    /// and emits them in key order.
    func fetchAndEmit(_ state: inout State, _ part: Range) async throws {
        let table = state.table
        var parameters: [String?] = []
        let within = condition(part, table, parameters: &parameters)
        let keys = table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")
        let sql = "SELECT \(keys), \(table.rowHash) FROM \(table.table) WHERE \(within)"
        async let a = first.query(sql, parameters).rows
        async let b = second.query(sql, parameters).rows
        let (firstRows, secondRows) = try await (a, b)
        let width = table.keyColumns.count
        func index(_ rows: [[String?]]) -> [String: (key: [String?], hash: String?)] {
            var map: [String: (key: [String?], hash: String?)] = [:]
            for row in rows { map[Self.keyString(Array(row.prefix(width)))] = (Array(row.prefix(width)), row[width]) }
            return map
        }
        let left = index(firstRows)
        let right = index(secondRows)
        var differing: [[String?]] = []
        for (id, entry) in left where right[id]?.hash != entry.hash { differing.append(entry.key) }
        for (id, entry) in right where left[id] == nil { differing.append(entry.key) }
        guard !differing.isEmpty else { return }
        if state.emit == nil && state.budget == nil {
            // Counts only: the hashes already tell added, removed and changed apart.
            for (id, entry) in left {
                if let other = right[id] { if other.hash != entry.hash { state.changed += 1 } } else { state.removed += 1 }
            }
            state.added += right.keys.filter { left[$0] == nil }.count
            return
        }

        // The differing rows, in key order, from both sides.
        try await emitRows(&state, try await orderKeys(differing, table))
    }

    /// Fetches the rows of `ordered` keys from both sides, a batch at a time, and emits those that
    /// differ, in that order, until the budget is spent.
    func emitRows(_ state: inout State, _ ordered: [[String?]]) async throws {
        for start in stride(from: 0, to: ordered.count, by: 1000) {
            let batch = Array(ordered[start..<min(start + 1000, ordered.count)])
            try await emitBatch(&state, batch)
            if state.stopped { return }
        }
    }

    private func emitBatch(_ state: inout State, _ ordered: [[String?]]) async throws {
        let table = state.table
        async let a = rows(first, table, keys: ordered)
        async let b = rows(second, table, keys: ordered)
        let (firstFull, secondFull) = try await (a, b)
        for key in ordered {
            if state.full {
                state.stopped = true
                return
            }
            let id = Self.keyString(key)
            let keyObject = Dictionary(uniqueKeysWithValues: zip(table.keyNames, key))
            switch (firstFull[id], secondFull[id]) {
            case (nil, let new?):
                state.added += 1
                try await emit(&state, RowDelta(kind: .added, key: keyObject, keyValues: key, old: nil, new: new, count: 1), position: key)
            case (let old?, nil):
                state.removed += 1
                try await emit(&state, RowDelta(kind: .removed, key: keyObject, keyValues: key, old: old, new: nil, count: 1), position: key)
            case (let old?, let new?):
                if old == new { continue }
                state.changed += 1
                try await emit(&state, RowDelta(kind: .changed, key: keyObject, keyValues: key, old: old, new: new, count: 1), position: key)
            case (nil, nil):
                continue
            }
        }
    }

    // MARK: By changed pages

    /// The table's heap tuples that may differ, per side, when both files can be read and not too
    /// many may differ; nil otherwise.
    func changedPages(_ table: TableComparison, _ pages: PageAccess) async throws -> HeapPages.Candidates? {
        let sql = "SELECT pg_relation_filepath($1::regclass)"
        async let a = first.query(sql, [table.table]).scalar
        async let b = second.query(sql, [table.table]).scalar
        guard let left = try await a ?? nil, let right = try await b ?? nil else { return nil }
        let limit = settings.tupleLimit
        return try await HeapPages.candidates(
            firstFile: "\(pages.firstDirectory)/\(left)", secondFile: "\(pages.secondDirectory)/\(right)",
            firstLog: pages.firstLog, secondLog: pages.secondLog, limit: limit)
    }

    /// Compares the rows of the candidate tuples, a run of blocks at a time (bounded memory): their
    /// keys and hashes on both sides, where a key found among one side's candidates but not among
    /// the other's in the same blocks (the row moved, or exists on one side only) is looked up by key. Then the
    /// differing rows are emitted in key order. Returns false, having emitted nothing, when so
    /// many rows moved that comparing by checksums is cheaper (a whole-table rewrite).
    func compareCandidates(_ state: inout State, _ candidates: HeapPages.Candidates, after: [String?]?) async throws -> Bool {
        let table = state.table
        state.pages = (candidates.pagesRead, candidates.pagesSkipped, candidates.first.count + candidates.second.count)
        var differing: [String: (key: [String?], kind: RowDelta.Kind)] = [:]
        var lookups = 0
        let chunk: UInt32 = 2048
        let last = max(candidates.first.last?.block ?? 0, candidates.second.last?.block ?? 0)
        var (i, j) = (0, 0)
        var start: UInt32 = 0
        while start <= last {
            try Task.checkCancellation()
            let end = start + chunk
            var leftTuples: [HeapPages.TupleID] = []
            var rightTuples: [HeapPages.TupleID] = []
            while i < candidates.first.count, candidates.first[i].block < end { leftTuples.append(candidates.first[i]); i += 1 }
            while j < candidates.second.count, candidates.second[j].block < end { rightTuples.append(candidates.second[j]); j += 1 }
            start = end
            if leftTuples.isEmpty && rightTuples.isEmpty { continue }
            async let a = hashesOfTuples(first, table, leftTuples)
            async let b = hashesOfTuples(second, table, rightTuples)
            var (left, right) = try await (a, b)
            let missingRight = left.keys.filter { right[$0] == nil }.map { left[$0]!.key }
            let missingLeft = right.keys.filter { left[$0] == nil }.map { right[$0]!.key }
            lookups += missingLeft.count + missingRight.count
            if lookups > settings.movedRowLimit {
                state.pages = nil
                return false
            }
            async let c = hashesOfKeys(second, table, missingRight)
            async let d = hashesOfKeys(first, table, missingLeft)
            let (moreRight, moreLeft) = try await (c, d)
            right.merge(moreRight) { old, _ in old }
            left.merge(moreLeft) { old, _ in old }
            for (id, entry) in left {
                guard let other = right[id] else {
                    differing[id] = (entry.key, .removed)
                    continue
                }
                if other.hash != entry.hash { differing[id] = (entry.key, .changed) }
            }
            for (id, entry) in right where left[id] == nil { differing[id] = (entry.key, .added) }
        }
        guard !differing.isEmpty else { return true }
        if state.emit == nil && state.budget == nil && after == nil {
            for entry in differing.values {
                switch entry.kind {
                case .added: state.added += 1
                case .removed: state.removed += 1
                case .changed: state.changed += 1
                }
            }
            return true
        }
        let keys = differing.values.map(\.key)
        var ordered: [[String?]]
        if let after {
            // Sort the resume position in with the keys and keep what follows it.
            let all = try await orderKeys(keys + [after], table)
            let marker = Self.keyString(after)
            let position = all.firstIndex { Self.keyString($0) == marker } ?? -1
            ordered = all[(position + 1)...].filter { Self.keyString($0) != marker }
        } else {
            ordered = try await orderKeys(keys, table)
        }
        try await emitRows(&state, ordered)
        return true
    }

    /// Key and row hash of the rows at the given tuple ids that this side's snapshot sees, by key string.
    func hashesOfTuples(_ connection: PGConnection, _ table: TableComparison, _ tuples: [HeapPages.TupleID]) async throws
        -> [String: (key: [String?], hash: String?)]
    {
        let keys = table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")
        // A TID scan: Postgres fetches exactly these tuples and applies the snapshot.
        let sql = "SELECT \(keys), \(table.rowHash) FROM \(table.table) WHERE ctid = ANY($1::tid[])"
        var result: [String: (key: [String?], hash: String?)] = [:]
        let width = table.keyColumns.count
        for start in stride(from: 0, to: tuples.count, by: 10_000) {
            let array = "{" + tuples[start..<min(start + 10_000, tuples.count)].map { "\"\($0)\"" }.joined(separator: ",") + "}"
            for row in try await connection.query(sql, [array]).rows {
                let key = Array(row.prefix(width))
                result[Self.keyString(key)] = (key, row[width])
            }
        }
        return result
    }

    /// Key and row hash of the rows with these keys, by key string.
    func hashesOfKeys(_ connection: PGConnection, _ table: TableComparison, _ keys: [[String?]]) async throws
        -> [String: (key: [String?], hash: String?)]
    {
        var result: [String: (key: [String?], hash: String?)] = [:]
        let width = table.keyColumns.count
        for start in stride(from: 0, to: keys.count, by: 1000) {
            let batch = Array(keys[start..<min(start + 1000, keys.count)])
            var parameters: [String?] = []
            var columns: [String] = []
            for index in table.keyColumns.indices {
                parameters.append("{" + batch.map { arrayElement($0[index]) }.joined(separator: ",") + "}")
                columns.append("k\(index)")
            }
            let arrays = parameters.indices.map { "$\($0 + 1)::text[]" }.joined(separator: ", ")
            let typed = columns.enumerated().map { "\($1)::\(table.keyTypes[$0])" }.joined(separator: ", ")
            let sql = """
                SELECT \(table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")), \(table.rowHash) FROM \(table.table)
                WHERE \(table.keyTuple) IN (SELECT \(typed) FROM unnest(\(arrays)) AS u(\(columns.joined(separator: ", "))))
                """
            for row in try await connection.query(sql, parameters).rows {
                let key = Array(row.prefix(width))
                result[Self.keyString(key)] = (key, row[width])
            }
        }
        return result
    }

    func emit(_ state: inout State, _ change: RowDelta, position: [String?]) async throws {
        state.emitted += 1
        state.lastPosition = position
        if let emit = state.emit { try await emit(change) }
    }

    /// Sorts keys the way Postgres orders them (collations and types included).
    func orderKeys(_ keys: [[String?]], _ table: TableComparison) async throws -> [[String?]] {
        var parameters: [String?] = []
        var columns: [String] = []
        for index in table.keyColumns.indices {
            parameters.append("{" + keys.map { arrayElement($0[index]) }.joined(separator: ",") + "}")
            columns.append("k\(index)")
        }
        let casts = columns.enumerated().map { "\($1)::\(table.keyTypes[$0])" }.joined(separator: ", ")
        let arrays = parameters.indices.map { "$\($0 + 1)::text[]" }.joined(separator: ", ")
        let sql = "SELECT \(columns.joined(separator: ", ")) FROM unnest(\(arrays)) AS u(\(columns.joined(separator: ", "))) ORDER BY \(casts)"
        return try await first.query(sql, parameters).rows
    }

    /// Whole rows (shared columns, text form) for the given keys, by key string.
    public func rows(_ connection: PGConnection, _ table: TableComparison, keys: [[String?]]) async throws -> [String: [String: String?]] {
        var parameters: [String?] = []
        var columns: [String] = []
        for index in table.keyColumns.indices {
            parameters.append("{" + keys.map { arrayElement($0[index]) }.joined(separator: ",") + "}")
            columns.append("k\(index)")
        }
        let arrays = parameters.indices.map { "$\($0 + 1)::text[]" }.joined(separator: ", ")
        let typed = columns.enumerated().map { "\($1)::\(table.keyTypes[$0])" }.joined(separator: ", ")
        let keyList = table.keyColumns.map { "\($0)::text" }.joined(separator: ", ")
        let valueList = table.columns.map { "\($0)::text" }.joined(separator: ", ")
        let sql = """
            SELECT \(keyList)\(valueList.isEmpty ? "" : ", " + valueList) FROM \(table.table)
            WHERE \(table.keyTuple) IN (SELECT \(typed) FROM unnest(\(arrays)) AS u(\(columns.joined(separator: ", "))))
            """
        var result: [String: [String: String?]] = [:]
        let width = table.keyColumns.count
        for row in try await connection.query(sql, parameters).rows {
            var values: [String: String?] = [:]
            for (index, name) in table.columnNames.enumerated() { values[name] = row[width + index] }
            result[Self.keyString(Array(row.prefix(width)))] = values
        }
        return result
    }

    /// One string per key, unambiguous: each value is length-prefixed, so no value's content can
    /// read as a separator or as the start of the next value.
    public static func keyString(_ key: [String?]) -> String {
        key.map { $0.map { "v\($0.utf8.count):" + $0 } ?? "n" }.joined(separator: "\u{1F}")
    }

    /// The API's view of a delta: added and removed rows whole, changed rows as their changed
    /// columns (json and jsonb ones also as a JSON patch).
    public static func change(_ delta: RowDelta, table: TableComparison) -> RowChange {
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

    // MARK: Tables without a primary key

    /// Compares whole rows as multisets: counts and sums of row hashes in 1024 buckets, then the
    /// hash counts of differing buckets, then one row per differing hash, with how many copies.
    func compareAsMultiset(_ state: inout State, afterBucket: Int?) async throws {
        let table = state.table
        let sql = """
            SELECT (h & 1023)::int, count(*), sum(h::numeric)::text FROM (SELECT \(table.rowHash) AS h FROM \(table.table)) s
            WHERE (h & 1023) > $1 GROUP BY 1 ORDER BY 1
            """
        let after = String(afterBucket ?? -1)
        async let a = first.query(sql, [after]).rows
        async let b = second.query(sql, [after]).rows
        let (left, right) = try await (a, b)
        func index(_ rows: [[String?]]) -> [Int: String] {
            Dictionary(uniqueKeysWithValues: rows.map { (Int($0[0] ?? "0") ?? 0, "\($0[1] ?? "0"):\($0[2] ?? "0")") })
        }
        let l = index(left)
        let r = index(right)
        for bucket in Set(l.keys).union(r.keys).sorted() where l[bucket] != r[bucket] {
            if state.full {
                state.stopped = true
                return
            }
            let counts = """
                SELECT h::text, count(*) FROM (SELECT \(table.rowHash) AS h FROM \(table.table)) s WHERE (h & 1023) = $1 GROUP BY h
                """
            async let c = first.query(counts, [String(bucket)]).rows
            async let d = second.query(counts, [String(bucket)]).rows
            let (x, y) = try await (c, d)
            let before = Dictionary(uniqueKeysWithValues: x.map { ($0[0] ?? "", Int($0[1] ?? "0") ?? 0) })
            let after = Dictionary(uniqueKeysWithValues: y.map { ($0[0] ?? "", Int($0[1] ?? "0") ?? 0) })
            for hash in Set(before.keys).union(after.keys).sorted() {
                let delta = (after[hash] ?? 0) - (before[hash] ?? 0)
                if delta == 0 { continue }
                let source = delta > 0 ? second : first
                let values = table.columns.map { "\($0)::text" }.joined(separator: ", ")
                let row = try await source.query(
                    "SELECT \(values) FROM \(table.table) WHERE \(table.rowHash) = $1::bigint LIMIT 1", [hash]).rows.first ?? []
                let object = Dictionary(uniqueKeysWithValues: zip(table.columnNames, row.map { $0 }))
                if delta > 0 { state.added += delta } else { state.removed += -delta }
                try await emit(
                    &state,
                    RowDelta(
                        kind: delta > 0 ? .added : .removed, key: [:], keyValues: [], old: delta > 0 ? nil : object, new: delta > 0 ? object : nil,
                        count: abs(delta)),
                    position: [String(bucket - 1)])
            }
            state.lastPosition = [String(bucket)]
        }
    }
}
