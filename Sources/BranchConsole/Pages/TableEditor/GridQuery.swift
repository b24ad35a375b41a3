import Foundation

/// The table editor's page of rows: sort and filters from the URL, keyset pagination on the
/// primary key (or `ctid` for a table without one), every value read as text. Values travel as
/// `$n` parameters cast to the column's catalog type; names are quoted identifiers.
struct GridQuery: Sendable {
    struct Filter: Sendable, Equatable {
        enum Operator: String, CaseIterable, Sendable {
            case eq, neq, lt, lte, gt, gte, like, isnull, notnull

            var label: String {
                switch self {
                case .eq: "="
                case .neq: "≠"
                case .lt: "<"
                case .lte: "≤"
                case .gt: ">"
                case .gte: "≥"
                case .like: "contains"
                case .isnull: "is null"
                case .notnull: "is not null"
                }
            }
        }

        var column: String
        var op: Operator
        var value: String

        /// `col.op.value` (the value may hold dots; the column is the longest known name that fits).
        init?(_ text: String, columns: [String]) {
            guard let column = columns.filter({ text.hasPrefix($0 + ".") }).max(by: { $0.count < $1.count }) else { return nil }
            let rest = text.dropFirst(column.count + 1)
            let opText = rest.prefix { $0 != "." }
            guard let op = Operator(rawValue: String(opText)) else { return nil }
            self.column = column
            self.op = op
            self.value = String(rest.dropFirst(opText.count + 1))
        }

        init(column: String, op: Operator, value: String) {
            self.column = column
            self.op = op
            self.value = value
        }

        var text: String { "\(column).\(op.rawValue).\(value)" }
    }

    struct Sort: Sendable, Equatable {
        var column: String
        var descending: Bool

        init?(_ text: String, columns: [String]) {
            if text.hasSuffix(".desc"), columns.contains(String(text.dropLast(5))) {
                self.init(column: String(text.dropLast(5)), descending: true)
            } else if text.hasSuffix(".asc"), columns.contains(String(text.dropLast(4))) {
                self.init(column: String(text.dropLast(4)), descending: false)
            } else {
                return nil
            }
        }

        init(column: String, descending: Bool) {
            self.column = column
            self.descending = descending
        }

        var text: String { "\(column).\(descending ? "desc" : "asc")" }
    }

    /// A position between rows: the sort column's value (when sorted) and then the key's.
    struct Cursor: Sendable, Equatable {
        var values: [String?]

        init(values: [String?]) { self.values = values }

        init?(token: String) {
            var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
            guard let data = Data(base64Encoded: base64), let values = try? JSONDecoder().decode([String?].self, from: data) else { return nil }
            self.values = values
        }

        var token: String {
            let data = (try? JSONEncoder().encode(values)) ?? Data()
            return data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
    }

    static let pageSize = 50

    let table: TableCatalog.Table
    var sort: Sort?
    var filters: [Filter]

    /// The key columns as (SQL expression, type): the primary key, or `ctid` without one.
    var keyColumns: [(sql: String, type: String)] {
        let key = table.key
        if key.isEmpty { return [("ctid", "tid")] }
        return key.map { (SQLQuoting.identifier($0.name), $0.type) }
    }

    /// Indices into a result row of the cursor's values: the sort column first, then the key.
    /// (The row is the table's columns in order, then `ctid` for a table without a key.)
    func cursorIndices() -> [Int] {
        var indices: [Int] = []
        if let sort, let index = table.columns.firstIndex(where: { $0.name == sort.column }) { indices.append(index) }
        let key = table.key
        if key.isEmpty { indices.append(table.columns.count) } else {
            indices += key.compactMap { column in table.columns.firstIndex { $0.name == column.name } }
        }
        return indices
    }

    /// The page after `after` (or before `before`, read backwards then put back in order), one row
    /// more than a page to learn whether another follows; `limit` overrides the page size.
    func sql(after: Cursor? = nil, before: Cursor? = nil, limit: Int? = nil) -> (query: String, params: [String?]) {
        var params: [String?] = []
        func param(_ value: String?, _ type: String) -> String {
            params.append(value)
            return "$\(params.count)::\(type)"
        }
        var conditions: [String] = []
        for filter in filters {
            guard let column = table.column(filter.column) else { continue }
            let name = SQLQuoting.identifier(column.name)
            switch filter.op {
            case .eq: conditions.append("\(name) = \(param(filter.value, column.type))")
            case .neq: conditions.append("\(name) IS DISTINCT FROM \(param(filter.value, column.type))")
            case .lt: conditions.append("\(name) < \(param(filter.value, column.type))")
            case .lte: conditions.append("\(name) <= \(param(filter.value, column.type))")
            case .gt: conditions.append("\(name) > \(param(filter.value, column.type))")
            case .gte: conditions.append("\(name) >= \(param(filter.value, column.type))")
            case .like: conditions.append("\(name)::text ILIKE \(param("%" + Self.escapeLike(filter.value) + "%", "text"))")
            case .isnull: conditions.append("\(name) IS NULL")
            case .notnull: conditions.append("\(name) IS NOT NULL")
            }
        }
        let backwards = before != nil
        let descending = (sort?.descending ?? false) != backwards
        // Rows without a sort value come last reading forwards, so first reading backwards.
        let nullsFirst = backwards
        let key = keyColumns
        let sortColumn = sort.flatMap { table.column($0.column) }
        if let cursor = after ?? before {
            let op = descending ? "<" : ">"
            if let sortColumn {
                let name = SQLQuoting.identifier(sortColumn.name)
                let sortValue = cursor.values.first ?? nil
                let keyValues = Array(cursor.values.dropFirst())
                let keyTuple = zip(key, keyValues).map { param($0.1, $0.0.type) }.joined(separator: ", ")
                let keyNames = key.map(\.sql).joined(separator: ", ")
                if let sortValue {
                    let value = param(sortValue, sortColumn.type)
                    var condition = "(\(name) IS NOT NULL AND (\(name), \(keyNames)) \(op) (\(value), \(keyTuple)))"
                    if !nullsFirst { condition += " OR \(name) IS NULL" }
                    conditions.append("(\(condition))")
                } else {
                    var condition = "(\(name) IS NULL AND (\(keyNames)) \(op) (\(keyTuple)))"
                    if nullsFirst { condition += " OR \(name) IS NOT NULL" }
                    conditions.append("(\(condition))")
                }
            } else {
                let keyTuple = zip(key, cursor.values).map { param($0.1, $0.0.type) }.joined(separator: ", ")
                conditions.append("(\(key.map(\.sql).joined(separator: ", "))) \(op) (\(keyTuple))")
            }
        }
        let direction = descending ? "DESC" : "ASC"
        var order: [String] = []
        if let sortColumn { order.append("\(SQLQuoting.identifier(sortColumn.name)) \(direction) NULLS \(nullsFirst ? "FIRST" : "LAST")") }
        order += key.map { "\($0.sql) \(direction)" }
        // Aliased: ORDER BY a bare name would otherwise sort by the text output column of that name.
        var select = table.columns.enumerated().map { "\(SQLQuoting.identifier($0.element.name))::text AS c\($0.offset)" }
        if table.key.isEmpty { select.append("ctid::text AS c_ctid") }
        var query = "SELECT \(select.joined(separator: ", ")) FROM \(table.sql)"
        if !conditions.isEmpty { query += " WHERE " + conditions.joined(separator: " AND ") }
        query += " ORDER BY " + order.joined(separator: ", ") + " LIMIT \((limit ?? Self.pageSize) + 1)"
        return (query, params)
    }

    /// `text` with LIKE's wildcards taken literally.
    static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
    }
}
