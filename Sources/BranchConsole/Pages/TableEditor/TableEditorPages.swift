import BranchCore
import Foundation
import Hummingbird

/// `/projects/{p}/tables`: any table of a branch, 50 rows a page in primary-key (keyset) order,
/// sorted and filtered from the URL, edited in place (`table-editor.js`: a pending-edit queue
/// with undo, reviewed as SQL, saved in one transaction) or row by row without JS; CSV export
/// and import. Developers and owners reach the data through `runSQL`; viewers read it (grid,
/// table list, CSV export) through the read-only `querySQL`, without editing controls.
struct TableEditorPages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/tables") { request, context -> Response in
            try await grid(try await TableLocation.read(request, context: context, environment: environment), request: request)
        }
        pages.post("/projects/:project/tables/save") { request, context -> Response in
            try await TableSave(environment: environment).save(request, location: try await TableLocation.read(request, context: context, environment: environment))
        }
        TableRowPages(environment: environment).register(on: pages)
        TableHistoryPages(environment: environment).register(on: pages)
        TableTransferPages(environment: environment).register(on: pages)
    }

    func grid(_ location: TableLocation, request: Request) async throws -> Response {
        let session = try ConsoleSession.required()
        let project = location.project, branch = location.branch
        let isDeveloper = session.viewer.may(.developer, in: project)
        // The past is read-only: "as of" reads a temporary branch at that instant.
        let mayWrite = isDeveloper && location.at == nil
        var cli = "branch sql \"SELECT * FROM \(location.tableID ?? "…") LIMIT 50\" --branch \(branch) --project \(project)" + (mayWrite ? "" : " --read-only")
        // Viewers read through the read-only `querySQL` (EditorSQL picks it) and get no editing controls.
        var model = TableGridModel(project: project, branch: branch, mayWrite: mayWrite, notice: nil, tables: [], noTables: false, grid: nil, error: nil)
        model.viewerReadOnly = !isDeveloper
        var present = location
        present.at = nil
        model.asOf = .init(at: location.at, value: location.at ?? "", presentHref: present.href(), table: location.tableID, sort: location.sort,
                           filters: location.filters)
        guard let at = location.at, let point = Formatting.point(at) else {
            try await fill(&model, location: location, request: request, sql: EditorSQL(environment: environment, project: project, branch: branch))
            return try await render(model, location: location, cli: cli)
        }
        cli = "branch create asof --from \(branch) --at \(at) --project \(project) && " + cli.replacingOccurrences(of: "--branch \(branch)", with: "--branch asof")
        guard isDeveloper else {
            model.notice = "Reading a table as of a past instant opens a temporary branch there, which needs the developer role; your role in \(project) is viewer."
            return try await render(model, location: location, cli: cli)
        }
        do {
            model = try await TemporaryBranch(environment: environment, project: project).at(point, of: branch, prefix: "asof") { temporary in
                var filled = model
                try await fill(&filled, location: location, request: request, sql: EditorSQL(environment: environment, project: project, branch: temporary))
                return filled
            }
        } catch let failure as ConsoleFailure where failure.status != 403 && failure.status != 404 {
            model.error = "Could not open \(branch) as of \(at): \(failure.message) (\(failure.code))" + (failure.hint.map { " " + $0 } ?? "")
        }
        return try await render(model, location: location, cli: cli)
    }

    /// The table list and the chosen table's page, read through `sql` (the branch, or a temporary one as of an instant).
    func fill(_ model: inout TableGridModel, location: TableLocation, request: Request, sql: EditorSQL) async throws {
        let tables: [TableCatalog.Table]
        do {
            tables = try await location.tables(sql)
        } catch let failure as ConsoleFailure where failure.status < 500 && failure.status != 404 && failure.status != 403 {
            model.error = "\(failure.message) (\(failure.code))"
            return
        }
        model.noTables = tables.isEmpty
        let current = tables.first { $0.id == location.tableID } ?? (location.tableID == nil ? tables.first : nil)
        model.tables = tables.map {
            .init(label: $0.id, href: location.href(table: $0.id, keep: false), current: $0.id == current?.id, rows: "~\($0.estimatedRows)")
        }
        if location.tableID != nil && current == nil {
            model.error = "Branch \(location.branch) has no table \(location.tableID!)" + (location.at.map { " as of \($0)." } ?? ".")
        }
        if let table = current {
            var here = location
            here.tableID = table.id
            do {
                model.grid = try await page(table, location: here, request: request, sql: sql, mayWrite: model.mayWrite)
            } catch let failure as ConsoleFailure where failure.status == 422 || failure.status == 400 {
                model.error = "\(failure.message) (\(failure.code))"
            }
        }
    }

    func render(_ model: TableGridModel, location: TableLocation, cli: String) async throws -> Response {
        try await environment.page(
            "tables", title: "Table editor", project: location.project, branch: location.branch, point: location.at, section: .tables, cli: cli,
            script: model.grid?.editable == true ? "table-editor.js" : nil, body: model)
    }

    func page(_ table: TableCatalog.Table, location: TableLocation, request: Request, sql: EditorSQL, mayWrite: Bool) async throws -> TableGridModel.Grid {
        let query = FormFields(request.uri.query ?? "")
        let names = table.columns.map(\.name)
        let sort = location.sort.flatMap { GridQuery.Sort($0, columns: names) }
        let filters = location.filters.compactMap { GridQuery.Filter($0, columns: names) }
        let grid = GridQuery(table: table, sort: sort, filters: filters)
        let after = query.text("after").flatMap(GridQuery.Cursor.init(token:))
        let before = query.text("before").flatMap(GridQuery.Cursor.init(token:))
        let (text, params) = grid.sql(after: after, before: before)
        var rows = try await sql.rows(text, params)
        let more = rows.count > GridQuery.pageSize
        rows = Array(rows.prefix(GridQuery.pageSize))
        if before != nil { rows.reverse() }
        var here = location
        here.sort = sort?.text
        here.filters = filters.map(\.text)
        let indices = grid.cursorIndices()
        func cursor(_ row: [String?]) -> String { GridQuery.Cursor(values: indices.map { $0 < row.count ? row[$0] : nil }).token }
        let hasNext = before != nil ? true : more
        let hasPrevious = before != nil ? more : after != nil
        let key = table.key
        let editable = !key.isEmpty && mayWrite
        let columnNames = table.columns.map(\.name)
        let rowViews = rows.map { row -> TableGridModel.Row in
            let keyValues = key.map { column in row[columnNames.firstIndex(of: column.name)!] }
            let keyObject = Dictionary(uniqueKeysWithValues: zip(key.map(\.name), keyValues.map { $0 ?? "" }))
            let keyJSON = (try? JSONSerialization.data(withJSONObject: keyObject, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return .init(
                keyJSON: keyJSON,
                editHref: editable ? here.href("/row", extra: [("key", GridQuery.Cursor(values: keyValues).token)]) : nil,
                historyHref: editable ? here.href("/history", keep: false, extra: [("key", GridQuery.Cursor(values: keyValues).token)]) : nil,
                cells: table.columns.enumerated().map { index, column in
                    TableGridModel.Cell(
                        column: column.name, value: row[index] ?? "NULL", isNull: row[index] == nil,
                        jump: Self.jump(column.references, value: row[index], location: location))
                })
        }
        let heads = table.columns.map { column -> TableGridModel.ColumnHead in
            let active = sort?.column == column.name
            let next = active && sort?.descending == false ? "\(column.name).desc" : "\(column.name).asc"
            return .init(
                name: column.name, type: column.type, key: column.keyPosition != nil, notNull: column.notNull, hasDefault: column.hasDefault,
                generated: column.generated, references: column.references.map { "\($0.tableID).\($0.column)" },
                options: column.enumLabels.isEmpty ? nil : (try? JSONEncoder().encode(column.enumLabels)).map { String(decoding: $0, as: UTF8.self) },
                sortHref: here.href(sort: next),
                ariaSort: active ? (sort!.descending ? "descending" : "ascending") : "none",
                sortMark: active ? (sort!.descending ? "▼" : "▲") : "",
                sortLabel: "Sort by \(column.name) " + (next.hasSuffix(".desc") ? "descending" : "ascending"))
        }
        return .init(
            id: table.id, name: table.name, readOnly: key.isEmpty && mayWrite, editable: editable, columns: heads, rowsHTML: TableGridModel.html(rowViews), empty: rowViews.isEmpty,
            shown: rowViews.count,
            nextHref: hasNext ? rows.last.map { here.href(extra: [("after", cursor($0))]) } : nil,
            previousHref: hasPrevious ? rows.first.map { here.href(extra: [("before", cursor($0))]) } : nil,
            firstHref: (after != nil || before != nil) ? here.href() : nil,
            filters: filters.map { filter in
                .init(
                    text: "\(filter.column) \(filter.op.label)" + (filter.op == .isnull || filter.op == .notnull ? "" : " \(filter.value)"),
                    removeHref: here.href(filters: here.filters.filter { $0 != filter.text }))
            },
            hasFilters: !filters.isEmpty,
            columnOptions: columnNames.map { .init(value: $0, label: $0) },
            operators: GridQuery.Filter.Operator.allCases.map { .init(value: $0.rawValue, label: $0.label) },
            sort: here.sort, keptFilters: here.filters, at: location.at,
            exportHref: location.at == nil ? here.href("/export.csv") : nil,
            exportJSONHref: location.at == nil ? here.href("/export.json") : nil,
            importHref: editable ? here.href("/import", keep: false) : nil,
            newRowHref: editable ? here.href("/row", extra: [("new", "1")]) : nil,
            saveURL: here.href("/save", keep: false),
            copyCommand: "branch psql \(location.branch) --project \(location.project) -- -c "
                + Self.shellQuoted("\\copy \(table.sql) TO '\(table.name).csv' WITH (FORMAT csv, HEADER)"),
            estimatedRows: "~\(table.estimatedRows)")
    }

    /// FK jump: the row a foreign key value points at, as the referenced table's grid filtered to it.
    static func jump(_ reference: TableCatalog.Reference?, value: String?, location: TableLocation) -> TableGridModel.Jump? {
        guard let reference, let value else { return nil }
        return .init(
            href: location.href(table: reference.tableID, keep: false, filters: ["\(reference.column).eq.\(value)"]),
            label: "Open the \(reference.tableID) row with \(reference.column) = \(value)")
    }

    /// `text` in double quotes for a POSIX shell.
    static func shellQuoted(_ text: String) -> String {
        var quoted = ""
        for character in text {
            if "\\\"$`".contains(character) { quoted.append("\\") }
            quoted.append(character)
        }
        return "\"" + quoted + "\""
    }
}
