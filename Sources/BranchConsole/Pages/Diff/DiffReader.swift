import BranchAPI
import Foundation
import OpenAPIRuntime

/// Reads the API's diff (JSON Lines: schema changes, per table its rows and counts, an `end`
/// line) as the console needs it: the counts alone, or one window of one table's rows. Reading
/// stops once the window is full, so a page never holds more than it shows.
struct DiffReader: Sendable {
    typealias Row = Components.Schemas.DiffRowChange

    struct Summary: Sendable {
        var schema: [Components.Schemas.DiffSchemaChange] = []
        var tables: [Components.Schemas.DiffTableSummary] = []
        /// With `rowsOf`: that table's first changed rows.
        var rows: [Row] = []
        /// With `rowsOf`, when that table has modified rows: how many changed each column.
        var columns: Components.Schemas.DiffColumnCounts?
        var end: Components.Schemas.DiffEnd?
    }

    let environment: ConsoleEnvironment
    let project: String

    /// Schema changes and per-table counts (`summary: true`); with `rowsOf` (a table, or `*` for
    /// the most changed), also that table's first `limit` changed rows, in the same diff.
    func summary(from: String, to: String, rowsOf: String? = nil, limit: Int? = nil) async throws -> Summary {
        let project = project
        return try await environment.call("diff", project: project) { api in
            let body = try await api.diff(.init(path: .init(project: project), body: .json(.init(
                from: from, limit: rowsOf == nil ? nil : limit, rowsOf: rowsOf, summary: true, to: to)))).ok.body.applicationXNdjson
            var summary = Summary()
            try await Self.lines(body) { line in
                if let change = line.schema { summary.schema.append(change) }
                if let table = line.table { summary.tables.append(table) }
                if let row = line.row { summary.rows.append(row) }
                if let columns = line.columns { summary.columns = columns }
                if let end = line.end { summary.end = end }
                return true
            }
            return summary
        }
    }

    /// The changed rows of `table` in key order that `keep` accepts, after skipping `skip` of them, at most `take`.
    func rows(from: String, to: String, table: String, skip: Int = 0, take: Int = .max, keep: @escaping @Sendable (Row) -> Bool) async throws -> [Row] {
        let project = project
        return try await environment.call("diff", project: project) { api in
            let body = try await api.diff(.init(path: .init(project: project), body: .json(.init(from: from, tables: [table], to: to)))).ok.body
                .applicationXNdjson
            var rows: [Row] = []
            var seen = 0
            try await Self.lines(body) { line in
                guard let row = line.row, row.table == table, keep(row) else { return true }
                seen += 1
                if seen > skip { rows.append(row) }
                return rows.count < take
            }
            return rows
        }
    }

    /// One keyset page of `table`'s changes: at most `limit` from where `cursor` (a previous page's
    /// `nextCursor`) left off, and the cursor after them (nil on the last page).
    func page(from: String, to: String, table: String, limit: Int, cursor: String?) async throws -> (rows: [Row], next: String?) {
        let project = project
        return try await environment.call("diff", project: project) { api in
            let body = try await api.diff(.init(path: .init(project: project), body: .json(.init(
                cursor: cursor, from: from, limit: limit, tables: [table], to: to)))).ok.body.applicationXNdjson
            var rows: [Row] = []
            var next: String?
            try await Self.lines(body) { line in
                if let row = line.row, row.table == table { rows.append(row) }
                if let end = line.end { next = end.nextCursor }
                return true
            }
            return (rows, next)
        }
    }

    /// Calls `each` with every line of `body` until it answers false; an `error` line becomes a `ConsoleFailure`.
    static func lines(_ body: HTTPBody, _ each: (Components.Schemas.DiffLine) throws -> Bool) async throws {
        let decoder = JSONDecoder()
        var buffer: [UInt8] = []
        for try await chunk in body {
            buffer.append(contentsOf: chunk)
            var start = buffer.startIndex
            while let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = try decoder.decode(Components.Schemas.DiffLine.self, from: Data(buffer[start..<newline]))
                start = newline + 1
                if let error = line.error {
                    throw ConsoleFailure(status: 500, code: error.code, message: error.message, hint: error.hint)
                }
                if try !each(line) { return }
            }
            buffer.removeSubrange(buffer.startIndex..<start)
        }
    }
}
