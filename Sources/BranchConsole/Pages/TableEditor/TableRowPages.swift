import Foundation
import Hummingbird

/// `/projects/{p}/tables/row`: one row as a form, for editing without JS: update its cells,
/// delete it, or (`new=1`) insert a row. Each submit is one statement through `runSQL`.
struct TableRowPages: Sendable {
    let environment: ConsoleEnvironment

    struct Field: Sendable {
        var name: String
        var type: String
        var value: String
        var isNull: Bool
        var key: Bool
        var generated: Bool
        var hint: String
        var id: String
    }

    struct Model: Sendable {
        var table: String
        var isNew: Bool
        var action: String
        var backHref: String
        var fields: [Field]
        var error: String?
        var cli: String
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/tables/row") { request, context -> Response in
            let location = try await TableLocation.read(request, context: context, environment: environment)
            try await PageAccess.requireWrite(environment, project: location.project)
            let (table, key) = try await target(location, request: request)
            return try await form(location, table: table, key: key, request: request, values: nil, error: nil)
        }
        pages.post("/projects/:project/tables/row") { request, context -> Response in
            let location = try await TableLocation.read(request, context: context, environment: environment)
            let fields = try await environment.form(request)
            let (table, key) = try await target(location, request: request)
            let sql = EditorSQL(environment: environment, project: location.project, branch: location.branch)
            var submitted: [String: String?] = [:]
            for column in table.columns where !column.generated {
                let value: String? = fields["null." + column.name] == "on" ? nil : (fields["v." + column.name] ?? "")
                submitted.updateValue(value, forKey: column.name)
            }
            do {
                let edit: EditBatch.Edit
                switch fields["action"] {
                case "delete":
                    edit = .init(op: "delete", key: key, values: nil)
                case "insert":
                    // Left empty (and not NULL-ticked): the column's default.
                    let values = submitted.filter { name, value in
                        !(value == "" && (table.column(name)?.hasDefault ?? false))
                    }
                    edit = .init(op: "insert", key: nil, values: values)
                default:
                    let current = try await currentRow(table, key: key, sql: sql)
                    let changed = submitted.filter { name, value in current[name] != value }
                    guard !changed.isEmpty else { return environment.redirect(location.href(), flash: "Nothing changed.") }
                    edit = .init(op: "update", key: key, values: changed)
                }
                let statement = try EditBatch.statement(edit, table: table)
                _ = try await sql.run(statement, readOnly: false, changes: true)
                let done = fields["action"] == "delete" ? "Row deleted." : fields["action"] == "insert" ? "Row inserted." : "Row saved."
                return environment.redirect(location.href(), flash: done)
            } catch let failure as ConsoleFailure where failure.status != 403 && failure.status != 404 {
                return try await form(location, table: table, key: key, request: request, values: submitted, error: "\(failure.message) (\(failure.code))", status: .unprocessableContent)
            } catch let invalid as EditBatch.Invalid {
                return try await form(location, table: table, key: key, request: request, values: submitted, error: invalid.message, status: .badRequest)
            } catch let invalid as SQLQuoting.InvalidValue {
                return try await form(location, table: table, key: key, request: request, values: submitted, error: invalid.message, status: .badRequest)
            }
        }
    }

    /// The table and (unless `new=1`) the row's key the URL names.
    func target(_ location: TableLocation, request: Request) async throws -> (TableCatalog.Table, [String: String?]?) {
        let sql = EditorSQL(environment: environment, project: location.project, branch: location.branch)
        guard let table = try await location.tables(sql).first(where: { $0.id == location.tableID }) else {
            throw ConsoleFailure.notFound("Table \(location.tableID ?? "")")
        }
        guard !table.key.isEmpty else {
            throw ConsoleFailure(status: 400, code: "invalid_request", message: "Table \(table.id) has no primary key: it is read-only here.")
        }
        let query = FormFields(request.uri.query ?? "")
        if query["new"] == "1" { return (table, nil) }
        guard let cursor = query.text("key").flatMap(GridQuery.Cursor.init(token:)), cursor.values.count == table.key.count else {
            throw ConsoleFailure(status: 400, code: "invalid_request", message: "The link names no row.")
        }
        return (table, Dictionary(uniqueKeysWithValues: zip(table.key.map(\.name), cursor.values)))
    }

    func currentRow(_ table: TableCatalog.Table, key: [String: String?]?, sql: EditorSQL) async throws -> [String: String?] {
        let condition = try EditBatch.keyCondition(key, table: table)
        let select = table.columns.map { "\(SQLQuoting.identifier($0.name))::text" }.joined(separator: ", ")
        guard let row = try await sql.rows("SELECT \(select) FROM \(table.sql) WHERE \(condition)").first else {
            throw ConsoleFailure.notFound("The row")
        }
        return Dictionary(uniqueKeysWithValues: zip(table.columns.map(\.name), row))
    }

    func form(
        _ location: TableLocation, table: TableCatalog.Table, key: [String: String?]?, request: Request, values: [String: String?]?, error: String?,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let sql = EditorSQL(environment: environment, project: location.project, branch: location.branch)
        let shown: [String: String?]
        if let values { shown = values } else if key != nil { shown = try await currentRow(table, key: key, sql: sql) } else { shown = [:] }
        let fields = table.columns.enumerated().map { index, column -> Field in
            let value = shown[column.name] ?? nil
            var hint = column.type
            if column.notNull { hint += ", not null" }
            if column.hasDefault { hint += key == nil ? ", empty: default" : ", has a default" }
            return Field(
                name: column.name, type: column.type, value: value ?? "", isNull: key != nil && shown[column.name] != nil && value == nil,
                key: column.keyPosition != nil, generated: column.generated, hint: hint, id: "field-\(index)")
        }
        let model = Model(
            table: table.id, isNew: key == nil, action: location.href("/row", extra: key == nil ? [("new", "1")] : [("key", GridQuery.Cursor(values: table.key.map { key?[$0.name] ?? nil }).token)]),
            backHref: location.href(), fields: fields, error: error,
            cli: "branch sql \"…\" --branch \(location.branch) --project \(location.project)")
        return try await environment.page(
            "tables-row", title: key == nil ? "New row in \(table.id)" : "Edit row of \(table.id)", project: location.project, branch: location.branch,
            section: .tables, cli: model.cli, status: status, body: model)
    }
}
