import BranchAPI
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Renders the diff page and its patch download.
struct DiffPage: Sendable {
    let environment: ConsoleEnvironment

    struct Option: Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    /// One side's picker: a branch with an optional instant, or a snapshot.
    struct Picker: Sendable {
        var side: String
        var legend: String
        var branches: [Option]
        var at: String
        var snapshots: [Option]
    }

    struct TableRow: Sendable {
        var name: String
        var href: String
        var added: Int
        var removed: Int
        var modified: Int
        var total: Int
        var method: String
        var keyless: Bool
        var current: Bool
    }

    struct SchemaRow: Sendable {
        var sign: String
        var change: String
        var objectType: String
        var name: String
        var breaking: Bool
        var reason: String?
        var from: String?
        var to: String?
        /// A changed object's definitions side by side, the lines the other side lacks marked.
        var fromHTML: HTML?
        var toHTML: HTML?
    }

    struct Link: Sendable {
        var label: String
        var href: String
        var current: Bool
        var count: Int?
    }

    struct TableView: Sendable {
        var name: String
        var keyless: Bool
        /// The changed rows' table (`DiffRowTable.html`).
        var rowsHTML: HTML
        var empty: Bool
        var filters: [Link]
        var columnsHref: String
        var onlyChanged: Bool
        var range: String
        /// The "values changed" count per column, most changed first, each a filter.
        var columnLinks: [Link]
        var hasColumnLinks: Bool
        var columnsCounted: String
        var key: String
        var searchHidden: [Link]
        var pages: [Link]
        var previous: String?
        var next: String?
        var sql: String
        var patchHref: String
        var selectable: Bool
    }

    struct Model: Sendable {
        var project: String
        var from: String
        var to: String
        var swapHref: String
        var pickers: [Picker]
        var error: String?
        var added: Int
        var removed: Int
        var modified: Int
        var schemaCount: Int
        var breakingCount: Int
        var hasBreaking: Bool
        var tables: [TableRow]
        var hasTables: Bool
        var noChanges: Bool
        var schema: [SchemaRow]
        var hasSchema: Bool
        var table: TableView?
        var mayWrite: Bool
        /// The branch "Apply" writes to: the first side, when it is a branch.
        var applyTarget: String?
        var tableApplyCLI: String?
        var applied: String?
        var appliedBranch: String?
        var undoBack: String
        var mergeHref: String?
    }

    func render(project: String, query fields: FormFields) async throws -> Response {
        let session = try ConsoleSession.required()
        async let branchList = environment.call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches
        }
        async let snapshotList = environment.call("listSnapshots", project: project) {
            try await $0.listSnapshots(.init(path: .init(project: project))).ok.body.json.snapshots
        }
        let branches = try await branchList
        let snapshots = try await snapshotList
        let current = fields.text("branch").flatMap { name in branches.first { $0.name == name } } ?? branches.first { $0.checkedOut } ?? branches.first
        let query = DiffQuery(fields, defaultFrom: current?.parent ?? current?.name ?? "main", defaultTo: current?.name ?? "main")
        let names = branches.map(\.name)
        var model = Model(
            project: project, from: query.from, to: query.to,
            swapHref: query.href(project: project, table: .some(nil), kind: .some(nil), from: query.to, to: query.from),
            pickers: [
                picker("from", "From (before)", query.from, branches: names, snapshots: snapshots),
                picker("to", "To (after)", query.to, branches: names, snapshots: snapshots),
            ],
            error: nil, added: 0, removed: 0, modified: 0, schemaCount: 0, breakingCount: 0, hasBreaking: false, tables: [], hasTables: false, noChanges: false,
            schema: [], hasSchema: false, table: nil,
            mayWrite: session.viewer.may(.developer, in: project), applyTarget: nil, tableApplyCLI: nil,
            applied: fields.text("applied"), appliedBranch: fields.text("into"), undoBack: query.href(project: project), mergeHref: nil)
        if model.mayWrite, names.contains(query.from) { model.applyTarget = query.from }
        if names.contains(query.to), branches.first(where: { $0.name == query.to })?.parent == query.from {
            model.mergeHref = "/projects/\(ConsolePath.segment(project))/merge?source=\(FormFields.encode(query.to))&target=\(FormFields.encode(query.from))"
        }
        var cli = ["branch", "diff", query.from, query.to]
        var status = HTTPResponse.Status.ok
        do {
            let reader = DiffReader(environment: environment, project: project)
            // A first page (no filter, no search) comes with the counts in one diff: the rows of the
            // table the URL names, or of the most changed one. Other pages read their rows alongside.
            // The counts always name a table (`rowsOf`), for its per-column counts.
            let single = query.kind == nil && query.key == nil && query.column == nil && query.page == 1
            async let early = single ? nil : Self.named(query, reader)
            let summary = try await reader.summary(from: query.from, to: query.to, rowsOf: query.table ?? "*", limit: single ? DiffQuery.pageSize : 1)
            fill(&model, summary, query: query)
            if let name = query.table ?? model.tables.first(where: { $0.total > 0 })?.name,
                let counts = summary.tables.first(where: { $0.table == name })
            {
                cli += ["--table", name, "--limit", String(DiffQuery.pageSize)]
                if query.kind == nil, query.page > 1, let after = query.after { cli += ["--cursor", after] }
                for index in model.tables.indices { model.tables[index].current = model.tables[index].name == name }
                let opened = single && summary.rows.allSatisfy({ $0.table == name }) ? (rows: summary.rows, next: summary.end?.nextCursor) : nil
                model.table = try await tableView(
                    project: project, query: query, counts: counts, columns: summary.columns.flatMap { $0.table == name ? $0 : nil }, reader: reader,
                    model: model, early: try await early ?? opened)
                if let target = model.applyTarget, Self.isSnapshotOrBranch(query.to) {
                    let restore = ShellWords.join(["branch", "restore", names.contains(query.to) ? "SNAPSHOT" : query.to, "--table", name, "--branch", target])
                    model.tableApplyCLI = names.contains(query.to) ? ShellWords.join(["branch", "snapshot", "create", query.to]) + " && " + restore : restore
                }
            } else {
                cli.append("--summary")
            }
        } catch let failure as ConsoleFailure {
            model.error = "\(failure.message) (\(failure.code))" + (failure.hint.map { " " + $0 } ?? "")
            status = .init(code: failure.status)
        }
        return try await environment.page(
            "diff", title: "Diff \(query.from) → \(query.to)", project: project, branch: names.contains(query.to) ? query.to : current?.name,
            branches: branches.map(\.name), section: .diff, cli: ShellWords.join(cli), script: "diff.js", status: status, body: model)
    }

    /// The page of the table the URL names, if it names one.
    static func named(_ query: DiffQuery, _ reader: DiffReader) async throws -> (rows: [DiffReader.Row], next: String?)? {
        guard let table = query.table else { return nil }
        return try await query.rows(reader, table: table, page: query.page)
    }

    /// Whether the side can be the source of a one-table restore: a branch (snapshotted first) or a
    /// snapshot, not an instant or a backup.
    static func isSnapshotOrBranch(_ side: String) -> Bool {
        !side.contains("@") && !side.hasPrefix("backup:")
    }

    func picker(_ side: String, _ legend: String, _ spec: String, branches: [String], snapshots: [Components.Schemas.SnapshotInfo]) -> Picker {
        let parts = spec.split(separator: "@", maxSplits: 1).map(String.init)
        let isBranch = branches.contains(parts.first ?? "")
        let branch = isBranch ? parts[0] : nil
        let snapshot = isBranch ? nil : spec
        return Picker(
            side: side, legend: legend,
            branches: [Option(value: "", label: "—", selected: branch == nil)] + branches.map { Option(value: $0, label: $0, selected: $0 == branch) },
            at: isBranch && parts.count > 1 ? parts[1] : "",
            snapshots: [Option(value: "", label: "—", selected: snapshot == nil)]
                + snapshots.sorted { $0.createdAt > $1.createdAt }.map { info in
                    let label = "\(info.name ?? info.id) · \(info.kind) of \(info.sourceBranch) · \(Formatting.age(info.createdAt))"
                    return Option(value: info.id, label: label, selected: snapshot != nil && (info.id == snapshot || info.name == snapshot))
                })
    }

    func fill(_ model: inout Model, _ summary: DiffReader.Summary, query: DiffQuery) {
        model.tables = summary.tables.map { table in
            let total = table.added + table.removed + table.changed
            return TableRow(
                name: table.table, href: query.href(project: model.project, table: .some(table.table), kind: .some(nil)), added: table.added,
                removed: table.removed, modified: table.changed, total: total, method: table.method, keyless: table.method == "multiset", current: false)
        }.filter { $0.total > 0 }.sorted { $0.total != $1.total ? $0.total > $1.total : $0.name < $1.name }
        model.added = summary.tables.map(\.added).reduce(0, +)
        model.removed = summary.tables.map(\.removed).reduce(0, +)
        model.modified = summary.tables.map(\.changed).reduce(0, +)
        model.schema = summary.schema.map { change in
            var row = SchemaRow(
                sign: change.change == "added" ? "+" : change.change == "removed" ? "−" : "~", change: change.change, objectType: change.objectType,
                name: change.name, breaking: change.classification == "breaking", reason: change.reason, from: change.from, to: change.to,
                fromHTML: nil, toHTML: nil)
            if let from = change.from, let to = change.to {
                let lines = TextDiff.lines(from, to)
                row.fromHTML = Self.definition(lines.old, removed: true)
                row.toHTML = Self.definition(lines.new, removed: false)
            }
            return row
        }.sorted { $0.breaking && !$1.breaking }
        model.schemaCount = summary.schema.count
        model.breakingCount = model.schema.filter(\.breaking).count
        model.hasBreaking = model.breakingCount > 0
        model.hasTables = !model.tables.isEmpty
        model.hasSchema = !model.schema.isEmpty
        model.noChanges = model.tables.isEmpty && model.schema.isEmpty
    }

    /// A definition as lines; those the other side lacks in `<del>` (before) or `<ins>` (after).
    static func definition(_ lines: [TextDiff.Part], removed: Bool) -> HTML {
        var html = HTML()
        for line in lines {
            let (open, close): (StaticString, StaticString) = switch (line.changed, removed) {
            case (false, _): ("<span class=\"line\">", "</span>")
            case (true, true): ("<del class=\"line\" aria-label=\"only before\">", "</del>")
            case (true, false): ("<ins class=\"line\" aria-label=\"only after\">", "</ins>")
            }
            html.markup(open)
            html.text(line.text.hasSuffix("\n") ? String(line.text.dropLast()) : line.text)
            html.markup(close)
        }
        return html
    }

    func tableView(
        project: String, query: DiffQuery, counts: Components.Schemas.DiffTableSummary, columns: Components.Schemas.DiffColumnCounts?,
        reader: DiffReader, model: Model, early: (rows: [DiffReader.Row], next: String?)?
    ) async throws -> TableView {
        let total = counts.added + counts.removed + counts.changed
        let counted = if let column = query.column {
            columns?.counts.first { $0.column == column }?.changed ?? 0
        } else {
            query.kind == "added" ? counts.added : query.kind == "removed" ? counts.removed : query.kind == "modified" ? counts.changed : total
        }
        // A key search shows what it finds on one page: the counts do not say how many match.
        let matching = query.key == nil ? counted : 0
        let size = DiffQuery.pageSize
        let pageCount = max(1, (matching + size - 1) / size)
        let page = min(query.page, pageCount)
        let (rows, nextCursor) = if let early, page == query.page { early } else { try await query.rows(reader, table: counts.table, page: page) }
        let first = rows.isEmpty ? 0 : (page - 1) * size + 1
        let filters = [Link(label: "All", href: query.href(project: project, kind: .some(nil)), current: query.kind == nil && query.column == nil, count: total)]
            + [("Added", "added", counts.added), ("Removed", "removed", counts.removed), ("Modified", "modified", counts.changed)].map { label, kind, count in
                Link(label: label, href: query.href(project: project, kind: .some(kind)), current: query.kind == kind, count: count)
            }
        let columnLinks = (columns?.counts ?? []).map { count in
            Link(
                label: count.column, href: query.href(project: project, kind: .some(nil), onlyChanged: query.onlyChanged, column: .some(count.column)),
                current: query.column == count.column, count: count.changed)
        }
        let numbers = (1...pageCount).filter { $0 == 1 || $0 == pageCount || abs($0 - page) <= 2 }
        let keyless = counts.method == "multiset"
        let selectable = model.applyTarget != nil && !keyless
        return TableView(
            name: counts.table, keyless: keyless,
            rowsHTML: DiffRowTable(rows: rows, onlyChanged: query.onlyChanged).html(name: counts.table, selectable: selectable), empty: rows.isEmpty,
            filters: filters, columnsHref: query.href(project: project, kind: .some(query.kind), page: page, onlyChanged: !query.onlyChanged, column: .some(query.column)),
            onlyChanged: query.onlyChanged,
            range: query.key.map { "\(rows.count) changed row\(rows.count == 1 ? "" : "s") with key \($0)" }
                ?? "\(first)–\(first == 0 ? 0 : first + rows.count - 1) of \(matching) changed rows"
                + (query.column.map { " where \($0) changed" } ?? ""),
            columnLinks: columnLinks, hasColumnLinks: !columnLinks.isEmpty,
            columnsCounted: columns.map { counted in
                "of \(counted.rows) modified row\(counted.rows == 1 ? "" : "s")" + (counted.complete ? "" : ", the first counted")
            } ?? "",
            key: query.key ?? "",
            searchHidden: [("from", query.from), ("to", query.to), ("table", counts.table), ("kind", query.kind ?? ""), ("column", query.column ?? "")].filter { !$0.1.isEmpty }.map {
                Link(label: $0.0, href: $0.1, current: false, count: nil)
            }
                + (query.onlyChanged ? [Link(label: "columns", href: "changed", current: false, count: nil)] : []),
            pages: numbers.map { Link(label: String($0), href: query.href(project: project, page: $0), current: $0 == page, count: nil) },
            previous: page > 1 ? query.href(project: project, page: page - 1) : nil,
            next: page < pageCount ? query.href(project: project, page: page + 1, after: nextCursor) : nil,
            sql: DiffSQL.patch(rows, transaction: true),
            patchHref: "/projects/\(ConsolePath.segment(project))/diff/patch.sql?from=\(FormFields.encode(query.from))&to=\(FormFields.encode(query.to))&table="
                + FormFields.encode(counts.table) + (query.kind.map { "&kind=" + $0 } ?? ""),
            selectable: selectable)
    }

    /// `patch.sql`: every change of the table (of the filtered kind) as SQL that turns `from` into `to`.
    func patch(project: String, query fields: FormFields) async throws -> Response {
        guard let from = fields.text("from"), let to = fields.text("to"), let table = fields.text("table") else {
            throw ConsoleFailure(status: 400, code: "invalid_request", message: "A patch needs from, to and table.")
        }
        let query = DiffQuery(fields, defaultFrom: from, defaultTo: to)
        let rows = try await DiffReader(environment: environment, project: project).rows(from: from, to: to, table: table, keep: DiffQuery.accepts(query.kind))
        let comment = ShellWords.join(["branch", "diff", from, to, "--table", table]).replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
        let text = "-- \(comment)\n" + DiffSQL.patch(rows, transaction: true)
        let file = table.filter { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" }
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/sql; charset=utf-8", .cacheControl: "no-store",
                .contentDisposition: "attachment; filename=\"diff-\(file.isEmpty ? "table" : file).sql\"",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
