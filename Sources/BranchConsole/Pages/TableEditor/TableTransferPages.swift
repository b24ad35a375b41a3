import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// CSV and JSON out, CSV in: `export.csv` and `export.json` stream the table (its sort and filters
/// kept) page by page in keyset order; `import` previews pasted or chosen CSV with a column mapping, then inserts every
/// row in one transaction.
struct TableTransferPages: Sendable {
    let environment: ConsoleEnvironment

    /// Rows read per `runSQL` (a viewer: `querySQL`) call while exporting.
    static let exportChunk = 5_000
    /// Rows per INSERT statement while importing (all statements in one transaction).
    static let importChunk = 500

    struct Mapping: Sendable {
        struct Choice: Sendable {
            var value: String
            var label: String
            var selected: Bool
        }

        var index: Int
        var header: String
        var field: String
        var id: String
        var choices: [Choice]
    }

    struct PreviewRow: Sendable {
        var cells: [TableGridModel.Cell]
    }

    struct ImportModel: Sendable {
        var table: String
        var action: String
        var backHref: String
        var csv: String
        var header: Bool
        var previewing: Bool
        var mappings: [Mapping]
        var preview: [PreviewRow]
        var total: Int
        var error: String?
        var columns: String
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/tables/export.csv") { request, context -> Response in
            try await export(try await TableLocation.read(request, context: context, environment: environment), as: .csv)
        }
        pages.get("/projects/:project/tables/export.json") { request, context -> Response in
            try await export(try await TableLocation.read(request, context: context, environment: environment), as: .json)
        }
        pages.get("/projects/:project/tables/import") { request, context -> Response in
            let location = try await TableLocation.read(request, context: context, environment: environment)
            try await PageAccess.requireWrite(environment, project: location.project)
            let table = try await table(location)
            return try await importPage(location, table: table, csv: "", header: true, mapping: nil, error: nil)
        }
        pages.post("/projects/:project/tables/import") { request, context -> Response in
            let location = try await TableLocation.read(request, context: context, environment: environment)
            let fields = try await environment.form(request, limit: 16 << 20)
            let table = try await table(location)
            let csv = fields["csv"] ?? ""
            let header = fields["header"] == "on"
            let mapping = fields.all("map").isEmpty ? nil : fields.all("map")
            guard fields["step"] == "insert" else {
                return try await importPage(location, table: table, csv: csv, header: header, mapping: mapping, error: nil)
            }
            do {
                let (columns, records) = try parse(csv, header: header, table: table, mapping: mapping)
                guard !records.isEmpty else { throw EditBatch.Invalid(message: "The CSV has no rows to import.") }
                let statements = try records.chunked(Self.importChunk).map { chunk in
                    let values = try chunk.map { record in
                        "(" + (try zip(columns, record).map { try SQLQuoting.typed($0.1, type: $0.0.type) }.joined(separator: ", ")) + ")"
                    }
                    return "INSERT INTO \(table.sql) (\(columns.map { SQLQuoting.identifier($0.name) }.joined(separator: ", "))) VALUES\n"
                        + values.joined(separator: ",\n")
                }
                let sql = EditorSQL(environment: environment, project: location.project, branch: location.branch)
                let results = try await sql.run(statements.map { $0 + ";" }.joined(separator: "\n"), readOnly: false, changes: true, timeoutMs: 300_000)
                let inserted = results.reduce(0) { $0 + $1.rowCount }
                return environment.redirect(location.href(keep: false), flash: "Imported \(inserted) rows into \(table.id) in one transaction.")
            } catch let failure as ConsoleFailure where failure.status != 403 && failure.status != 404 {
                return try await importPage(location, table: table, csv: csv, header: header, mapping: mapping, error: "\(failure.message) (\(failure.code)); nothing was imported.", status: .unprocessableContent)
            } catch let invalid as EditBatch.Invalid {
                return try await importPage(location, table: table, csv: csv, header: header, mapping: mapping, error: invalid.message, status: .badRequest)
            } catch let invalid as SQLQuoting.InvalidValue {
                return try await importPage(location, table: table, csv: csv, header: header, mapping: mapping, error: invalid.message, status: .badRequest)
            }
        }
    }

    func table(_ location: TableLocation) async throws -> TableCatalog.Table {
        let sql = EditorSQL(environment: environment, project: location.project, branch: location.branch)
        guard let table = try await location.tables(sql).first(where: { $0.id == location.tableID }) else {
            throw ConsoleFailure.notFound("Table \(location.tableID ?? "")")
        }
        return table
    }

    // MARK: Export

    /// CSV (a header line, then one record per row, as the grid shows it) or JSON (an array of one
    /// object per row, typed as PostgREST types them: numbers and booleans as such, `json` and
    /// `jsonb` as JSON, NULL as null, everything else as a string).
    enum ExportFormat: String {
        case csv, json

        var contentType: String { self == .csv ? "text/csv; charset=utf-8" : "application/json" }

        func start(_ columns: [TableCatalog.Column]) -> String { self == .csv ? CSV.line(columns.map(\.name)) : "[" }

        func rows(_ rows: ArraySlice<[String?]>, columns: [TableCatalog.Column], first: Bool) -> String {
            switch self {
            case .csv:
                return rows.map { CSV.line(Array($0.prefix(columns.count))) }.joined()
            case .json:
                let keys = columns.map { JSONExport.quoted($0.name) }
                let kinds = columns.map { JSONExport.Kind(type: $0.type) }
                return rows.enumerated().map { index, row in
                    let fields = keys.indices.map { "\(keys[$0]):\(JSONExport.encode(row.count > $0 ? row[$0] : nil, as: kinds[$0]))" }
                    return (first && index == 0 ? "\n{" : ",\n{") + fields.joined(separator: ",") + "}"
                }.joined()
            }
        }

        var end: String { self == .csv ? "" : "\n]\n" }
    }

    func export(_ location: TableLocation, as format: ExportFormat) async throws -> Response {
        let session = try ConsoleSession.required()
        let table = try await table(location)
        let names = table.columns.map(\.name)
        let grid = GridQuery(
            table: table, sort: location.sort.flatMap { GridQuery.Sort($0, columns: names) },
            filters: location.filters.compactMap { GridQuery.Filter($0, columns: names) })
        let sql = EditorSQL(environment: environment, project: location.project, branch: location.branch)
        let indices = grid.cursorIndices()
        // The first chunk before answering: a failure is still an error page, not a cut file.
        let (query, params) = grid.sql(limit: Self.exportChunk)
        let first = try await sql.rows(query, params)
        let body = ResponseBody { writer in
            await ConsoleSession.$current.withValue(session) {
                do {
                    try await writer.write(ByteBuffer(string: format.start(table.columns)))
                    var chunk = first
                    var isFirst = true
                    while true {
                        let page = chunk.prefix(Self.exportChunk)
                        try await writer.write(ByteBuffer(string: format.rows(page, columns: table.columns, first: isFirst)))
                        isFirst = false
                        guard chunk.count > Self.exportChunk, let last = page.last else { break }
                        let cursor = GridQuery.Cursor(values: indices.map { last[$0] })
                        let (query, params) = grid.sql(after: cursor, limit: Self.exportChunk)
                        chunk = try await sql.rows(query, params)
                    }
                    try await writer.write(ByteBuffer(string: format.end))
                } catch {}
            }
            try? await writer.finish(nil)
        }
        let filename = table.id.replacingOccurrences(of: "\"", with: "").replacingOccurrences(of: "/", with: "_")
        return Response(
            status: .ok,
            headers: [
                .contentType: format.contentType, .cacheControl: "no-store",
                .contentDisposition: "attachment; filename=\"\(filename).\(format.rawValue)\"",
            ],
            body: body)
    }

    // MARK: Import

    /// The columns the CSV's fields go to (in field order, skipped fields left out) and the records' values for them.
    func parse(_ csv: String, header: Bool, table: TableCatalog.Table, mapping: [String]?) throws -> ([TableCatalog.Column], [[String?]]) {
        let records: [[String?]]
        do {
            records = try CSV.parse(csv)
        } catch let malformed as CSV.Malformed {
            throw EditBatch.Invalid(message: "The CSV is malformed near line \(malformed.line) (an unbalanced quote?).")
        }
        guard let first = records.first else { return ([], []) }
        let targets = mapping ?? defaultMapping(first, header: header, table: table)
        var columns: [TableCatalog.Column] = []
        var fieldIndices: [Int] = []
        for (index, target) in targets.enumerated() where !target.isEmpty {
            guard let column = table.column(target) else { throw EditBatch.Invalid(message: "Table \(table.id) has no column \(target).") }
            guard !column.generated else { throw EditBatch.Invalid(message: "Column \(target) is generated: it cannot be imported into.") }
            guard !columns.contains(column) else { throw EditBatch.Invalid(message: "Two CSV fields go to column \(target).") }
            columns.append(column)
            fieldIndices.append(index)
        }
        guard !columns.isEmpty else { throw EditBatch.Invalid(message: "No CSV field is mapped to a column.") }
        let data = header ? Array(records.dropFirst()) : records
        return (columns, data.map { record in fieldIndices.map { $0 < record.count ? record[$0] : nil } })
    }

    /// Fields named like a column go to it; without a header, fields go to the columns in order.
    func defaultMapping(_ first: [String?], header: Bool, table: TableCatalog.Table) -> [String] {
        let writable = table.columns.filter { !$0.generated }
        return first.enumerated().map { index, field in
            if header { return table.columns.first { $0.name == field?.trimmingCharacters(in: .whitespaces) && !$0.generated }?.name ?? "" }
            return index < writable.count ? writable[index].name : ""
        }
    }

    func importPage(
        _ location: TableLocation, table: TableCatalog.Table, csv: String, header: Bool, mapping: [String]?, error: String?,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        var model = ImportModel(
            table: table.id, action: location.href("/import", keep: false), backHref: location.href(keep: false), csv: csv, header: header,
            previewing: false, mappings: [], preview: [], total: 0, error: error,
            columns: table.columns.map { "\($0.name) \($0.type)" }.joined(separator: ", "))
        if !csv.isEmpty, let records = try? CSV.parse(csv), let first = records.first {
            let targets = mapping ?? defaultMapping(first, header: header, table: table)
            model.previewing = true
            model.mappings = first.indices.map { index in
                let target = index < targets.count ? targets[index] : ""
                let choices = [Mapping.Choice(value: "", label: "(skip)", selected: target.isEmpty)]
                    + table.columns.filter { !$0.generated }.map { .init(value: $0.name, label: "\($0.name) (\($0.type))", selected: $0.name == target) }
                let name = header ? (first[index] ?? "") : ""
                return Mapping(index: index, header: name.isEmpty ? "field \(index + 1)" : name, field: "map", id: "map-\(index)", choices: choices)
            }
            let data = header ? Array(records.dropFirst()) : records
            model.total = data.count
            model.preview = data.prefix(10).map { record in
                .init(cells: first.indices.map { index in
                    let value = index < record.count ? record[index] : nil
                    return .init(column: "", value: value ?? "NULL", isNull: value == nil)
                })
            }
        } else if !csv.isEmpty && model.error == nil {
            model.error = "The CSV could not be read (an unbalanced quote?)."
        }
        return try await environment.page(
            "tables-import", title: "Import CSV into \(table.id)", project: location.project, branch: location.branch, section: .tables,
            cli: "branch psql \(location.branch) --project \(location.project) -- -c " + TableEditorPages.shellQuoted("\\copy \(table.sql) FROM 'file.csv' WITH (FORMAT csv, HEADER)"),
            script: "table-editor.js", status: status, body: model)
    }
}

fileprivate extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
