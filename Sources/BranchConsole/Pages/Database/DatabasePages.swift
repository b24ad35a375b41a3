import BranchAPI
import BranchCore
import Foundation
import Hummingbird
import NIOCore

/// `/projects/{p}/database?branch=B&schema=S`: the schema of a branch read from pg_catalog with
/// fixed queries (tables and columns, indexes, functions, triggers, enums, extensions, roles and
/// grants), a server-rendered SVG of the tables and their foreign keys, and the branch's
/// migrations, each linking to the diff it produced. Reading the catalog runs SQL on the branch:
/// `runSQL` for developers, the read-only `querySQL` for viewers (see `ProjectSQL`). With
/// `&at=ISO` the schema is the branch's as it was then, read through a temporary branch at that
/// instant (developers), and the migrations those applied by then.
struct DatabasePages: Sendable {
    let environment: ConsoleEnvironment

    struct Column: Sendable {
        var name: String
        var type: String
        var notNull: Bool
        var defaultValue: String?
        var primaryKey: Bool
    }

    struct Table: Sendable {
        var name: String
        var kind: String
        var anchor: String
        var comment: String?
        var columns: [Column]
        var references: [String]
    }

    /// A catalog row: its first cell is the row header.
    struct Cells: Sendable {
        var first: String
        var rest: [String]
    }

    struct Schema: Sendable {
        var name: String
        var href: String
        var current: Bool
    }

    struct Migration: Sendable {
        var version: String
        var name: String
        var applied: String
        var source: String
        var diffHref: String?
    }

    struct Model: Sendable {
        var project: String
        var branch: String
        var schema: String
        var schemas: [Schema]
        var mayRead: Bool
        var readError: String?
        var tables: [Table]
        var noTables: Bool
        var layout: SchemaLayout?
        var indexes: [Cells]
        var functions: [Cells]
        var triggers: [Cells]
        var enums: [Cells]
        var extensions: [Cells]
        var roles: [Cells]
        var grants: [Cells]
        var migrations: [Migration]
        var noMigrations: Bool
        var migrationsCLI: String
        var downloadHref: String
        /// The schema map's "Find table" text, and what it found.
        var find = ""
        var findResult: String?
        /// The past instant shown (canonical ISO), with the link back to now.
        var at: String?
        var nowHref: String?
        /// The map's layout controls: how tables are arranged, and whether every column is drawn
        /// or only key columns (primary and foreign keys).
        var arrangement = SchemaLayout.Arrangement.references.rawValue
        var keysOnly = false
        var arrangements: [Schema] = []
        var columnChoices: [Schema] = []
    }

    /// The map's view in the URL: `layout` (references, grid) and `columns` (all, keys).
    struct MapView: Sendable {
        var arrangement: SchemaLayout.Arrangement
        var keysOnly: Bool

        init(_ query: Hummingbird.Parameters) {
            arrangement = query["layout"].flatMap { SchemaLayout.Arrangement(rawValue: String($0)) } ?? .references
            keysOnly = query["columns"] == "keys"
        }

        /// `&layout=…&columns=…`, only what differs from the default.
        var query: String {
            (arrangement == .references ? "" : "&layout=\(arrangement.rawValue)") + (keysOnly ? "&columns=keys" : "")
        }
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/database") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let query = request.uri.queryParameters
            let branch = try await MonitoringPages(environment: environment).branch(project, query["branch"].map(String.init))
            let schema = query["schema"].map(String.init).flatMap { $0.isEmpty ? nil : $0 } ?? "public"
            let at = try Formatting.canonicalPoint(query["at"].map(String.init))
            return try await page(project, branch: branch, schema: schema, at: at, find: query["find"].map(String.init) ?? "", view: MapView(query))
        }
        pages.get("/projects/:project/database/schema.svg") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let query = request.uri.queryParameters
            let branch = try await MonitoringPages(environment: environment).branch(project, query["branch"].map(String.init))
            let schema = query["schema"].map(String.init).flatMap { $0.isEmpty ? nil : $0 } ?? "public"
            return try await download(
                project, branch: branch, schema: schema, at: try Formatting.canonicalPoint(query["at"].map(String.init)), view: MapView(query))
        }
    }

    /// The schema map alone, as an SVG file to download (colours inline: it leaves the console's stylesheet behind).
    func download(_ project: String, branch: String, schema: String, at: String?, view: MapView) async throws -> Response {
        var model = Self.empty(project: project, branch: branch, schema: schema, mayRead: true)
        model.at = at
        model.arrangement = view.arrangement.rawValue
        model.keysOnly = view.keysOnly
        try await read(into: &model, base: "/projects/\(ConsolePath.segment(project))")
        let file = "\(project)-\(branch)-\(schema)\(at.map { "-" + $0 } ?? "").svg".filter { $0.isLetter || $0.isNumber || "-_.".contains($0) }
        return Response(
            status: .ok,
            headers: [.contentType: "image/svg+xml; charset=utf-8", .contentDisposition: "attachment; filename=\"\(file)\"", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: environment.templates.render(model, "database-schema-svg"))))
    }

    static func empty(project: String, branch: String, schema: String, mayRead: Bool) -> Model {
        Model(
            project: project, branch: branch, schema: schema, schemas: [], mayRead: mayRead, readError: nil, tables: [], noTables: true, layout: nil,
            indexes: [], functions: [], triggers: [], enums: [], extensions: [], roles: [], grants: [], migrations: [], noMigrations: true,
            migrationsCLI: "branch migrate list --branch \(branch) --project \(project)", downloadHref: "")
    }

    func page(
        _ project: String, branch: String, schema: String, at: String? = nil, find: String = "", view: MapView = MapView(Hummingbird.Parameters())
    ) async throws -> Response {
        let session = try ConsoleSession.required()
        // The past needs a temporary branch, which needs the developer role.
        let mayRead = at == nil ? session.viewer.role(in: project) != nil : session.viewer.may(.developer, in: project)
        async let migrations = environment.call("listMigrations", project: project) {
            try await $0.listMigrations(.init(path: .init(project: project, branch: branch))).ok.body.json.migrations
        }
        let base = "/projects/\(ConsolePath.segment(project))"
        var model = Self.empty(project: project, branch: branch, schema: schema, mayRead: mayRead)
        model.at = at
        model.nowHref = at.map { _ in "\(base)/database?branch=\(FormFields.encode(branch))&schema=\(FormFields.encode(schema))" }
        model.downloadHref = "\(base)/database/schema.svg?branch=\(FormFields.encode(branch))&schema=\(FormFields.encode(schema))"
            + (at.map { "&at=" + FormFields.encode($0) } ?? "") + view.query
        model.arrangement = view.arrangement.rawValue
        model.keysOnly = view.keysOnly
        let here = "\(base)/database?branch=\(FormFields.encode(branch))&schema=\(FormFields.encode(schema))"
            + (at.map { "&at=" + FormFields.encode($0) } ?? "") + (find.isEmpty ? "" : "&find=" + FormFields.encode(find))
        model.arrangements = [(SchemaLayout.Arrangement.references, "By references"), (.grid, "Grid")].map { arrangement, label in
            var other = view
            other.arrangement = arrangement
            return Schema(name: label, href: here + other.query, current: arrangement == view.arrangement)
        }
        model.columnChoices = [(false, "All columns"), (true, "Keys only")].map { keysOnly, label in
            var other = view
            other.keysOnly = keysOnly
            return Schema(name: label, href: here + other.query, current: keysOnly == view.keysOnly)
        }
        if at != nil && !mayRead {
            model.readError = "Your role in \(project) is viewer: the schema at a past instant is read through a temporary branch, which needs the developer role."
        }
        if mayRead {
            do {
                try await read(into: &model, base: base)
            } catch let failure as ConsoleFailure where failure.status != 404 {
                model.readError = "\(failure.message) (\(failure.code))"
            }
        }
        Self.find(find, in: &model)
        let instant = at.flatMap(Formatting.instant)
        let all = try await migrations.sorted { $0.version < $1.version }
        // At an instant, the migrations applied by then; each diff still ends where the next migration (even a later one) began.
        let list = all.filter { instant == nil || $0.appliedAt <= instant! }
        model.migrations = list.enumerated().map { index, migration in
            let after = index + 1 < all.count ? all[index + 1].snapshot : nil
            let diff = migration.snapshot.map { before in
                "\(base)/diff?from=\(FormFields.encode(before))&to=\(FormFields.encode(after ?? branch))"
            }
            return Migration(version: migration.version, name: migration.name, applied: Formatting.utc(migration.appliedAt),
                             source: migration.source.rawValue, diffHref: diff)
        }.reversed()
        model.noMigrations = model.migrations.isEmpty
        return try await environment.page(
            "database", title: "Database · \(project)", project: project, branch: branch, point: at, section: .database,
            cli: "branch sql --branch \(branch) --project \(project) \"select * from pg_catalog.pg_tables where schemaname = '\(schema)'\"",
            script: "database.js", body: model)
    }

    /// Marks the schema map's tables whose name contains `text` (any case) found, the others dimmed.
    static func find(_ text: String, in model: inout Model) {
        let term = text.trimmingCharacters(in: .whitespaces)
        model.find = term
        guard !term.isEmpty, var layout = model.layout else { return }
        for index in layout.boxes.indices {
            layout.boxes[index].state = layout.boxes[index].name.localizedCaseInsensitiveContains(term) ? "found" : "dimmed"
        }
        let found = layout.boxes.filter { $0.state == "found" }.count
        model.layout = layout
        model.findResult = found == 0 ? "No table matches “\(term)”." : "\(found) table\(found == 1 ? "" : "s") match “\(term)”."
    }

    /// Reads the catalog of the model's branch, or, when it shows a past instant, of a temporary
    /// branch at that instant (deleted after).
    func read(into model: inout Model, base: String) async throws {
        guard let at = model.at else { return try await read(into: &model, base: base, from: model.branch) }
        let point = try Formatting.requiredPoint(at)
        let before = model
        model = try await TemporaryBranch(environment: environment, project: model.project).at(point, of: model.branch) { temporary in
            var copy = before
            try await self.read(into: &copy, base: base, from: temporary)
            return copy
        }
    }

    func read(into model: inout Model, base: String, from branch: String) async throws {
        let sql = ProjectSQL(environment: environment, project: model.project, branch: branch)
        let schema = model.schema
        // One call, one connection: ten reads side by side would open ten connections to the branch.
        let results = try await sql.batch([
            CatalogQueries.schemas, CatalogQueries.columns, CatalogQueries.foreignKeys, CatalogQueries.indexes, CatalogQueries.functions,
            CatalogQueries.triggers, CatalogQueries.enums, CatalogQueries.extensions, CatalogQueries.roles, CatalogQueries.grants,
        ], schema: schema)
        let (schemas, columns, keys, indexes, functions, triggers, enums, extensions, roles, grants) = (
            results[0], results[1], results[2], results[3], results[4], results[5], results[6], results[7], results[8], results[9])
        let branchQuery = "branch=" + FormFields.encode(model.branch) + (model.at.map { "&at=" + FormFields.encode($0) } ?? "")
        model.schemas = schemas.compactMap { $0.first ?? nil }.map {
            Schema(name: $0, href: "\(base)/database?\(branchQuery)&schema=\(FormFields.encode($0))", current: $0 == schema)
        }
        let keyRows = keys
        var tables: [Table] = []
        for row in columns {
            let name = row[0] ?? ""
            let column = Column(name: row[2] ?? "", type: row[3] ?? "", notNull: row[4] == "true", defaultValue: row[5], primaryKey: row[6] == "true")
            if tables.last?.name == name {
                tables[tables.count - 1].columns.append(column)
            } else {
                let references = keyRows.filter { $0[0] == name }.map { "\($0[1] ?? "") → \($0[2] ?? "").\($0[3] ?? "")" }
                tables.append(Table(name: name, kind: row[1] ?? "table", anchor: "table-" + FormFields.encode(name), comment: row[7],
                                    columns: [column], references: references))
            }
        }
        model.tables = tables
        model.noTables = tables.isEmpty
        let keyColumns = Set(keyRows.map { "\($0[0] ?? "").\($0[1] ?? "")" })
        let keysOnly = model.keysOnly
        model.layout = tables.isEmpty ? nil : SchemaLayout(
            tables: tables.map { table in
                let shown = keysOnly ? table.columns.filter { $0.primaryKey || keyColumns.contains("\(table.name).\($0.name)") } : table.columns
                let others = table.columns.count - shown.count
                return (table.name, shown.map { "\($0.name) \($0.type)\($0.primaryKey ? " · PK" : "")" } + (others > 0 ? ["+ \(others) other column\(others == 1 ? "" : "s")"] : []))
            },
            keys: keyRows.filter { $0[2] == schema }.map { .init(from: $0[0] ?? "", column: $0[1] ?? "", to: $0[3] ?? "") },
            arrangement: SchemaLayout.Arrangement(rawValue: model.arrangement) ?? .references)
        func text(_ rows: [[String?]]) -> [Cells] { rows.map { row in Cells(first: row.first.flatMap { $0 } ?? "", rest: row.dropFirst().map { $0 ?? "" }) } }
        model.indexes = text(indexes)
        model.functions = text(functions)
        model.triggers = text(triggers)
        model.enums = text(enums)
        model.extensions = text(extensions)
        model.roles = text(roles)
        model.grants = text(grants)
    }
}
