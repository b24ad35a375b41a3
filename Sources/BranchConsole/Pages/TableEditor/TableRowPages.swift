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
        /// How it is edited: a list (booleans, enums), a one-line input of `inputType`, else a text area.
        var isList: Bool = false
        var options: [Option] = []
        var isInput: Bool = false
        var inputType: String = "text"
        var inputMode: String = ""
        var hasInputMode: Bool = false
        var step: String = ""
        var hasStep: Bool = false
    }

    struct Option: Sendable {
        var value: String
        var label: String
        var selected: Bool
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
                var value: String? = fields["null." + column.name] == "on" ? nil : (fields["v." + column.name] ?? "")
                // A date-time picker sends `2024-05-01T10:00:00`; Postgres prints (and compares) a space.
                if Self.pickerKind(column) == "datetime-local" { value = value?.replacingOccurrences(of: "T", with: " ") }
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
            var field = Field(
                name: column.name, type: column.type, value: value ?? "", isNull: key != nil && shown[column.name] != nil && value == nil,
                key: column.keyPosition != nil, generated: column.generated, hint: hint, id: "field-\(index)")
            Self.type(&field, column: column)
            return field
        }
        let model = Model(
            table: table.id, isNew: key == nil, action: location.href("/row", extra: key == nil ? [("new", "1")] : [("key", GridQuery.Cursor(values: table.key.map { key?[$0.name] ?? nil }).token)]),
            backHref: location.href(), fields: fields, error: error,
            cli: "branch sql \"…\" --branch \(location.branch) --project \(location.project)")
        return try await environment.page(
            "tables-row", title: key == nil ? "New row in \(table.id)" : "Edit row of \(table.id)", project: location.project, branch: location.branch,
            section: .tables, cli: model.cli, status: status, body: model)
    }

    /// The typed control of a column: booleans and enums as a list, whole numbers as a number
    /// field, other numbers with a decimal keypad, dates and times without a zone as pickers (when
    /// the value fits one: a picker shows at most milliseconds), everything else as text.
    static func type(_ field: inout Field, column: TableCatalog.Column) {
        guard !column.generated else { return }
        if column.type == "boolean" || !column.enumLabels.isEmpty {
            let labels = column.type == "boolean" ? ["true", "false"] : column.enumLabels
            let current = field.value
            field.isList = true
            // A value the list does not hold (NULL, a new insert) starts on an empty choice.
            field.options = [Option(value: "", label: "—", selected: !labels.contains(current))]
                + labels.map { Option(value: $0, label: $0, selected: $0 == current) }
            return
        }
        switch column.type {
        case "smallint", "integer", "bigint":
            field.isInput = true
            field.inputType = "number"
            field.step = "1"
            field.hasStep = true
        case _ where column.type.hasPrefix("numeric") || column.type == "real" || column.type == "double precision":
            field.isInput = true
            field.inputMode = "decimal"
            field.hasInputMode = true
        default:
            guard let picker = pickerKind(column) else { return }
            let value = picker == "datetime-local" ? field.value.replacingOccurrences(of: " ", with: "T") : field.value
            guard field.value.isEmpty || fitsPicker(value, picker) else { return }
            field.isInput = true
            field.inputType = picker
            field.value = value
            if picker != "date" {
                field.step = "any"
                field.hasStep = true
            }
        }
    }

    /// `date`, `datetime-local` (timestamp without time zone) or `time`; nil for other types.
    static func pickerKind(_ column: TableCatalog.Column) -> String? {
        switch column.type {
        case "date": "date"
        case _ where column.type.hasPrefix("timestamp") && !column.type.contains("with time zone"): "datetime-local"
        case _ where column.type.hasPrefix("time") && !column.type.hasPrefix("timestamp") && !column.type.contains("with time zone"): "time"
        default: nil
        }
    }

    /// Whether a picker can show `value` exactly (HTML's formats; at most three fractional digits, no BC or infinity).
    static func fitsPicker(_ value: String, _ picker: String) -> Bool {
        switch picker {
        case "date": value.wholeMatch(of: /\d{4}-\d{2}-\d{2}/) != nil
        case "time": value.wholeMatch(of: /\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?/) != nil
        default: value.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?/) != nil
        }
    }
}
