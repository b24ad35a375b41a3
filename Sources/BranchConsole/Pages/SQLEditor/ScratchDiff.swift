import BranchAPI
import Foundation
import OpenAPIRuntime

/// The row diff of a scratch branch against the branch it was copied from (operation `diff`):
/// totals, per-table counts and the first changed rows with + / − / ~ gutters.
struct ScratchDiff: Sendable {
    let environment: ConsoleEnvironment
    let project: String

    /// Rows shown at most.
    static let rowLimit = 200

    func compare(base: String, scratch: String, place: SQLEditorPages.Place, needsConfirm: Bool) async throws -> SQLEditorModel.Scratch {
        let project = project
        let lines = try await environment.call("diff", project: project) { api in
            let body = try await api.diff(.init(path: .init(project: project), body: .json(.init(from: base, limit: Self.rowLimit, to: scratch)))).ok.body
                .applicationXNdjson
            return try await Self.read(body)
        }
        var model = SQLEditorModel.Scratch(
            name: scratch, base: base, added: 0, removed: 0, changed: 0, schemaChanges: [], tables: [], rows: [], hasSchemaChanges: false, hasTables: false, hasRows: false, more: false, unchanged: true,
            applyAction: place.href("/apply"), discardAction: place.href("/discard"), needsConfirm: needsConfirm)
        for line in lines {
            if let schema = line.schema { model.schemaChanges.append(Self.describe(schema)) }
            if let table = line.table {
                model.tables.append(.init(table: table.table, added: table.added, removed: table.removed, changed: table.changed))
                if !table.complete { model.more = true }
            }
            if let row = line.row, model.rows.count < Self.rowLimit { model.rows.append(Self.row(row)) }
            if let end = line.end {
                model.added = end.rowsAdded
                model.removed = end.rowsRemoved
                model.changed = end.rowsChanged
                if end.nextCursor != nil { model.more = true }
            }
        }
        model.hasSchemaChanges = !model.schemaChanges.isEmpty
        model.hasTables = !model.tables.isEmpty
        model.hasRows = !model.rows.isEmpty
        model.unchanged = model.added + model.removed + model.changed == 0 && model.schemaChanges.isEmpty
        return model
    }

    static func describe(_ change: Components.Schemas.DiffSchemaChange) -> String {
        "\(change.objectType) \(change.name) \(change.change) (\(change.classification))" + (change.reason.map { ": \($0)" } ?? "")
    }

    static func row(_ row: Components.Schemas.DiffRowChange) -> SQLEditorModel.DiffRow {
        let key = text(row.key)
        let gutter: String, rowClass: String
        switch row.change {
        case "added": (gutter, rowClass) = ("+", "added")
        case "removed": (gutter, rowClass) = ("−", "removed")
        default: (gutter, rowClass) = ("~", "modified-new")
        }
        var detail = ""
        if let columns = row.columns, !columns.isEmpty {
            detail = columns.map { "\($0.column): \($0.old ?? "NULL") → \($0.new ?? "NULL")" }.joined(separator: "; ")
        } else if let values = row.row {
            detail = text(values)
        }
        return .init(table: row.table, change: row.change, gutter: gutter, rowClass: rowClass, key: key, detail: detail)
    }

    /// A row's values as `col=value, …`.
    static func text(_ values: Components.Schemas.RowValues) -> String {
        values.additionalProperties.keys.sorted().map { key in "\(key)=\((values.additionalProperties[key] ?? nil) ?? "NULL")" }.joined(separator: ", ")
    }

    static func read(_ body: HTTPBody) async throws -> [Components.Schemas.DiffLine] {
        let decoder = JSONDecoder()
        var lines: [Components.Schemas.DiffLine] = []
        var buffer: [UInt8] = []
        for try await chunk in body {
            buffer.append(contentsOf: chunk)
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let bytes = buffer[..<newline]
                buffer.removeSubrange(...newline)
                guard !bytes.isEmpty else { continue }
                let line = try decoder.decode(Components.Schemas.DiffLine.self, from: Data(bytes))
                if let error = line.error { throw ConsoleFailure(status: 500, code: error.code, message: error.message, hint: error.hint) }
                lines.append(line)
            }
        }
        return lines
    }
}
