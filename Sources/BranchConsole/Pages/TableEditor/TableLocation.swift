import BranchAPI
import Foundation
import Hummingbird

/// What a table editor URL names: the project, the branch (default: the checked-out one), the
/// table, its sort and filters, and the links that keep all of it.
struct TableLocation: Sendable {
    var project: String
    var branch: String
    var tableID: String?
    var sort: String?
    var filters: [String]
    /// "As of": an instant (ISO 8601, UTC) or a WAL position the table is read at, read-only; nil for the present.
    var at: String?

    /// Reads the request's path and query; the branch defaults to the checked-out one.
    static func read(_ request: Request, context: some RequestContext, environment: ConsoleEnvironment) async throws -> TableLocation {
        guard let project = context.parameters.get("project") else { throw ConsoleFailure.notFound("The project") }
        let query = FormFields(request.uri.query ?? "")
        var filters = query.all("filter").filter { !$0.isEmpty }
        // The filter form without JS: column, operator and value as three fields.
        if let column = query.text("fcol"), let op = query.text("fop") { filters.append("\(column).\(op).\(query["fval"] ?? "")") }
        let branch = try await resolveBranch(project: project, chosen: query.text("branch"), environment: environment)
        return TableLocation(
            project: project, branch: branch, tableID: query.text("table"), sort: query.text("sort"), filters: filters,
            at: try Formatting.canonicalPoint(query.text("at")))
    }

    /// `chosen`, or the project's checked-out branch.
    static func resolveBranch(project: String, chosen: String?, environment: ConsoleEnvironment) async throws -> String {
        if let chosen { return chosen }
        let branches = try await environment.call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches
        }
        return branches.first { $0.checkedOut }?.name ?? "main"
    }

    var base: String { "/projects/\(ConsolePath.segment(project))/tables" }

    /// A URL under the table editor with the branch and table; `keep` keeps sort and filters
    /// (`sort` and `filters` replace them); `extra` appended.
    func href(
        _ path: String = "", table: String? = nil, keep: Bool = true, sort: String? = nil, filters: [String]? = nil, extra: [(String, String)] = []
    ) -> String {
        var items: [(String, String)] = [("branch", branch)]
        if let at { items.append(("at", at)) }
        if let table = table ?? tableID { items.append(("table", table)) }
        if let sort = sort ?? (keep ? self.sort : nil) { items.append(("sort", sort)) }
        for filter in filters ?? (keep ? self.filters : []) { items.append(("filter", filter)) }
        items += extra
        return base + path + "?" + items.map { "\($0.0)=\(FormFields.encode($0.1))" }.joined(separator: "&")
    }

    /// The branch's tables, read from its catalog.
    func tables(_ sql: EditorSQL) async throws -> [TableCatalog.Table] {
        TableCatalog.tables(try await sql.rows(TableCatalog.query))
    }
}
