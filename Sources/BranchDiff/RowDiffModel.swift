import BranchCore
import BranchPostgres
import Foundation

/// How a table is compared: which columns, which key.
package struct TableComparison: Sendable {
    /// `schema.table`, quoted where needed.
    package let table: String
    /// Quoted key column names and their types; empty for a table without a primary key.
    package let keyColumns: [String]
    package let keyNames: [String]
    package let keyTypes: [String]
    /// Quoted names of the columns both sides have, and their plain names, in the first side's order.
    package let columns: [String]
    package let columnNames: [String]
    /// Plain names of json and jsonb columns (their changes also come as JSON patches).
    package let jsonColumns: Set<String>

    package init(from: TableSchema, to: TableSchema) {
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

    package var hasKey: Bool { !keyColumns.isEmpty }
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
package struct RowChange: Sendable, Equatable {
    package var table: String
    package var kind: RowDelta.Kind
    /// The primary key (column → value); empty for a table without one.
    package var key: [String: String?]
    /// The whole row, for added and removed rows.
    package var row: [String: String?]?
    package var columns: [ColumnChange]?
    /// For tables without a primary key: how many copies of this row were added or removed.
    package var count: Int?
}

/// One changed column of a changed row; for json and jsonb columns also as JSON-patch operations.
package struct ColumnChange: Sendable, Equatable {
    package var column: String
    package var old: String?
    package var new: String?
    package var patch: [JSONPatchOperation]?

    package init(column: String, old: String?, new: String?, patch: [JSONPatchOperation]? = nil) {
        self.column = column
        self.old = old
        self.new = new
        self.patch = patch
    }
}

/// How a table's rows were compared.
package enum TableDiffMethod: String, Sendable {
    /// Rows matched by primary key, by checksums of key ranges.
    case primaryKey = "primary key"
    /// Rows matched by primary key, reading only the heap pages that differ.
    case changedPages = "primary key, changed pages"
    /// No primary key: whole rows compared as a multiset.
    case multiset
}

/// Counts of one table's row differences.
package struct TableDiffSummary: Sendable, Equatable {
    package var table: String
    package var added: Int
    package var removed: Int
    package var changed: Int
    package var method: TableDiffMethod
    /// Whether the counts are complete (false when the budget stopped the diff inside this table).
    package var complete: Bool
    /// When compared by heap pages: pages (both sides) read and compared, and skipped unread
    /// (the same extents on both sides, all-visible); tuples asked for by tuple id.
    package var pagesRead: Int?
    package var pagesSkipped: Int?
    package var tuplesCompared: Int?
}

/// One differing row as the differ found it: the full rows (shared columns, text form) on each side.
package struct RowDelta: Sendable {
    package enum Kind: String, Sendable { case added, removed, changed }
    package var kind: Kind
    /// Key column → value (empty for a table without a primary key).
    package var key: [String: String?]
    package var keyValues: [String?]
    package var old: [String: String?]?
    package var new: [String: String?]?
    /// Copies added or removed (tables without a primary key); 1 otherwise.
    package var count: Int

    package init(kind: Kind, key: [String: String?], keyValues: [String?], old: [String: String?]?, new: [String: String?]?, count: Int = 1) {
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
package struct RowDiffSettings: Sendable {
    /// Segments of the first pass over a table.
    package var firstSegments = 64
    /// Sub-segments a differing segment is split into.
    package var fanout = 16
    /// A differing segment with at most this many rows on either side is fetched (key and hash per
    /// row), not split further.
    package var fetchThreshold = 2_000
    /// Rows of one table below which it is fetched at once.
    package var smallTable = 4_000
    /// With page access: at most this many heap tuples that may differ (both sides together) are
    /// read directly by their tuple ids; beyond that the table is compared by checksums.
    package var tupleLimit = 4_000_000
    /// With page access: when more rows than this moved between pages (looked up by key on the
    /// other side), as in a rewrite of the whole table, checksums are cheaper.
    package var movedRowLimit = 500_000
    /// With page access: rows of one side's candidates kept while their other side may still turn
    /// up in later blocks (bounded memory); beyond that they are looked up by key at once.
    package var waitingRowLimit = 200_000

    package init() {}
}
