/// How many of a table's modified rows changed each column: the diff page's "values changed"
/// count per column (Datafold's column view). Columns no row changed are left out.
package struct ColumnChangeCounts: Sendable, Equatable {
    package var table: String
    /// Modified rows counted: all of the table's when `complete`, else the first ones in key order.
    package var rows: Int
    /// Column → rows whose value of it changed, most changed first (ties by name).
    package var counts: [(column: String, changed: Int)]
    package var complete: Bool

    package init(table: String, rows: Int, counts: [(column: String, changed: Int)], complete: Bool) {
        self.table = table
        self.rows = rows
        self.counts = counts
        self.complete = complete
    }

    package static func == (a: Self, b: Self) -> Bool {
        a.table == b.table && a.rows == b.rows && a.complete == b.complete
            && a.counts.map(\.column) == b.counts.map(\.column) && a.counts.map(\.changed) == b.counts.map(\.changed)
    }
}

/// Counts, row by row, the columns a modified row changed (added and removed rows change none).
package struct ColumnTally: Sendable {
    let table: TableComparison
    private(set) var rows = 0
    private var changed: [Int]

    package init(_ table: TableComparison) {
        self.table = table
        changed = Array(repeating: 0, count: table.columnNames.count)
    }

    package mutating func add(_ delta: RowDelta) {
        guard delta.kind == .changed, let old = delta.old, let new = delta.new else { return }
        rows += 1
        for (index, name) in table.columnNames.enumerated() where (old[name] ?? nil) != (new[name] ?? nil) {
            changed[index] += 1
        }
    }

    package func counts(complete: Bool) -> ColumnChangeCounts {
        let counts = zip(table.columnNames, changed).filter { $0.1 > 0 }.map { (column: $0.0, changed: $0.1) }
            .sorted { $0.changed != $1.changed ? $0.changed > $1.changed : $0.column < $1.column }
        return ColumnChangeCounts(table: table.table, rows: rows, counts: counts, complete: complete)
    }
}
