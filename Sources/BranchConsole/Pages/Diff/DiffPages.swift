import BranchAPI
import Foundation
import Hummingbird

/// `/projects/{p}/diff?from=SIDE&to=SIDE`: a row-level diff of any two points (a branch, a
/// snapshot, `BRANCH@INSTANT`, `backup:ID`): counts first, schema changes with the breaking ones
/// flagged, then one table's changed rows, filtered and paginated, with their SQL; and applying
/// chosen rows or whole tables to the first side, undoably.
struct DiffPages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/diff") { request, context -> Response in
            try await DiffPage(environment: environment).render(project: try Self.project(context), query: FormFields(request.uri.query ?? ""))
        }
        pages.get("/projects/:project/diff/patch.sql") { request, context -> Response in
            try await DiffPage(environment: environment).patch(project: try Self.project(context), query: FormFields(request.uri.query ?? ""))
        }
        pages.post("/projects/:project/diff/apply") { request, context -> Response in
            try await DiffApply(environment: environment).apply(project: try Self.project(context), form: try await environment.form(request))
        }
    }

    static func project<Context: RequestContext>(_ context: Context) throws -> String {
        guard let project = context.parameters.get("project") else { throw ConsoleFailure.notFound("That page") }
        return project
    }
}

/// What a diff page's URL says: the two sides, the table, the kind filter, the page and whether
/// unchanged columns are hidden.
struct DiffQuery: Sendable {
    var from: String
    var to: String
    var table: String?
    var kind: String?
    var page: Int
    /// The engine's keyset cursor where this page starts (the previous page's `nextCursor`), for unfiltered pages.
    var after: String?
    var onlyChanged: Bool
    /// Only rows one of whose key values is this (search by primary key).
    var key: String?
    /// Only modified rows that changed this column.
    var column: String?

    static let pageSize = 50
    static let kinds = ["added", "removed", "modified"]

    /// `from`/`to`, else the pickers' fields (`from_branch`, `from_at`, `from_snapshot`).
    init(_ query: FormFields, defaultFrom: String, defaultTo: String) {
        from = query.text("from") ?? Self.side("from", query) ?? defaultFrom
        to = query.text("to") ?? Self.side("to", query) ?? defaultTo
        table = query.text("table")
        kind = query.text("kind").flatMap { Self.kinds.contains($0) ? $0 : nil }
        page = max(1, Int(query["page"] ?? "") ?? 1)
        after = query.text("after")
        onlyChanged = query["columns"] == "changed"
        key = query.text("key")
        column = query.text("column")
    }

    static func side(_ name: String, _ query: FormFields) -> String? {
        if let snapshot = query.text("\(name)_snapshot") { return snapshot }
        guard let branch = query.text("\(name)_branch") else { return nil }
        return query.text("\(name)_at").map { "\(branch)@\($0)" } ?? branch
    }

    func href(
        project: String, table: String?? = .none, kind: String?? = .none, page: Int = 1, after: String? = nil, onlyChanged: Bool? = nil,
        from: String? = nil, to: String? = nil, column: String?? = .none
    ) -> String {
        var parts = ["from=" + FormFields.encode(from ?? self.from), "to=" + FormFields.encode(to ?? self.to)]
        if let table = table ?? self.table { parts.append("table=" + FormFields.encode(table)) }
        if let kind = kind ?? self.kind { parts.append("kind=" + kind) }
        if page > 1 { parts.append("page=\(page)") }
        if let after { parts.append("after=" + FormFields.encode(after)) }
        if onlyChanged ?? self.onlyChanged { parts.append("columns=changed") }
        if let key { parts.append("key=" + FormFields.encode(key)) }
        // Naming a table or a kind filter drops the column filter, unless the column is named too.
        if let column = column ?? (table == nil && kind == nil ? self.column : nil) { parts.append("column=" + FormFields.encode(column)) }
        return "/projects/\(ConsolePath.segment(project))/diff?" + parts.joined(separator: "&")
    }

    /// The rows of this page and, when read by keyset (no kind filter: the engine's `limit` and
    /// `cursor`), the cursor of the next one; a filtered page, or a page jumped to by number,
    /// is read from the table's first change, skipping what earlier pages hold.
    func rows(_ reader: DiffReader, table: String, page: Int) async throws -> (rows: [DiffReader.Row], next: String?) {
        if kind == nil && key == nil && column == nil && (page == 1 || (after != nil && page == self.page)) {
            return try await reader.page(from: from, to: to, table: table, limit: Self.pageSize, cursor: page == 1 ? nil : after)
        }
        let rows = try await reader.rows(
            from: from, to: to, table: table, skip: (page - 1) * Self.pageSize, take: Self.pageSize, keep: Self.accepts(kind, key: key, column: column))
        return (rows, nil)
    }

    /// Whether a row is of the kind the filter shows (and, with `column`, a modified row that changed it).
    static func accepts(_ kind: String?, key: String? = nil, column: String? = nil) -> @Sendable (Components.Schemas.DiffRowChange) -> Bool {
        let change = column != nil ? "changed" : kind.map { $0 == "modified" ? "changed" : $0 }
        return { row in
            (change == nil || row.change == change) && (key == nil || row.key.additionalProperties.values.contains { $0 == key })
                && (column == nil || (row.columns ?? []).contains { $0.column == column })
        }
    }
}

/// Shell words for the CLI lines the pages show.
enum ShellWords {
    static func quote(_ word: String) -> String {
        let plain = word.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_.:@/=+,".unicodeScalars.contains($0) }
        return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    static func join(_ words: [String]) -> String { words.map(quote).joined(separator: " ") }
}
