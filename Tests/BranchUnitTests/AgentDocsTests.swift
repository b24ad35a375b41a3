import BranchCore
@testable import BranchREST
@testable import BranchServer
import BranchSystem
import Foundation
import Testing

/// The documents for agents, built from hand-made schema caches: the OpenAPI 3.1 document (valid
/// under openapi-spec-validator when the repository's virtualenv has it), the markdown brief,
/// row-level security in words, and the routes that serve them.
@Suite("Agent documents: OpenAPI 3.1 and the brief")
struct AgentDocsTests {
    static func column(
        _ name: String, _ type: String, _ udt: String, nullable: Bool = true, default defaultExpression: String? = nil,
        identity: Bool = false, generated: Bool = false, comment: String? = nil, enumValues: [String] = []
    ) -> Column {
        Column(
            name: name, type: type, udtName: udt, nullable: nullable, defaultExpression: defaultExpression,
            isIdentity: identity, isGenerated: generated, comment: comment, enumValues: enumValues)
    }

    static let profiles = QualifiedName("public", "profiles")
    static let todos = QualifiedName("public", "todos")
    static let openTodos = QualifiedName("public", "open_todos")
    static let odd = QualifiedName("public", "odd name/{x}")

    /// profiles ← todos (two keys: owner and reviewer), a view over todos, an oddly named table
    /// with a column named like a reserved query key, functions of each kind, and a table in
    /// another schema that must not show.
    static func cache() -> SchemaCache {
        let relations: [Relation] = [
            Relation(
                name: profiles, kind: .table, comment: "People who use the app",
                columns: [
                    column("id", "uuid", "uuid", nullable: false, default: "gen_random_uuid()"),
                    column("email", "character varying(200)", "varchar", nullable: false, comment: "Where to write"),
                    column("settings", "jsonb", "jsonb", default: "'{}'::jsonb"),
                ],
                primaryKey: ["id"], insertable: true, updatable: true, deletable: true),
            Relation(
                name: todos, kind: .table, comment: "Things to do\n\nOne row per task.",
                columns: [
                    column("id", "bigint", "int8", nullable: false, identity: true),
                    column("owner", "uuid", "uuid", nullable: false, comment: "Who owns it"),
                    column("reviewer", "uuid", "uuid"),
                    column("title", "text", "text", nullable: false),
                    column("done", "boolean", "bool", nullable: false, default: "false"),
                    column("status", "todo_status", "todo_status", default: "'open'::todo_status", enumValues: ["open", "closed"]),
                    column("tags", "text[]", "_text", default: "'{}'::text[]"),
                    column("due", "timestamp with time zone", "timestamptz"),
                    column("score", "numeric(10,2)", "numeric", default: "'-1.5'::numeric"),
                    column("slug", "text", "text", generated: true),
                ],
                primaryKey: ["id"], insertable: true, updatable: true, deletable: true),
            Relation(
                name: openTodos, kind: .view, comment: nil,
                columns: [column("id", "bigint", "int8"), column("owner", "uuid", "uuid"), column("title", "text", "text")],
                primaryKey: [], insertable: false, updatable: false, deletable: false),
            Relation(
                name: odd, kind: .table, comment: nil,
                columns: [column("id", "integer", "int4", nullable: false), column("select", "text", "text"), column("naïve col", "date", "date")],
                primaryKey: ["id"], insertable: true, updatable: true, deletable: true),
            Relation(
                name: QualifiedName("private", "secrets"), kind: .table, comment: nil,
                columns: [column("id", "integer", "int4", nullable: false)],
                primaryKey: ["id"], insertable: true, updatable: true, deletable: true),
        ]
        let keys = [
            ForeignKey(constraintName: "todos_owner_fkey", table: todos, columns: ["owner"], referencedTable: profiles, referencedColumns: ["id"]),
            ForeignKey(constraintName: "todos_reviewer_fkey", table: todos, columns: ["reviewer"], referencedTable: profiles, referencedColumns: ["id"]),
            ForeignKey(constraintName: "todos_owner_fkey", table: openTodos, columns: ["owner"], referencedTable: profiles, referencedColumns: ["id"]),
        ]
        let functions: [Function] = [
            Function(
                name: QualifiedName("public", "add"),
                arguments: [.init(name: "a", type: "integer", hasDefault: false), .init(name: "b", type: "integer", hasDefault: true)],
                returns: .scalar(type: "integer"), returnsSet: false, volatility: .immutable, comment: "Adds\nTwo numbers."),
            Function(
                name: QualifiedName("public", "add"),
                arguments: [.init(name: "a", type: "text", hasDefault: false), .init(name: "c", type: "text", hasDefault: false)],
                returns: .scalar(type: "text"), returnsSet: false, volatility: .immutable, comment: nil),
            Function(name: QualifiedName("public", "touch"), arguments: [], returns: .void, returnsSet: false, volatility: .volatile, comment: nil),
            Function(
                name: QualifiedName("public", "my_todos"), arguments: [.init(name: "only_open", type: "boolean", hasDefault: true)],
                returns: .relation(todos), returnsSet: true, volatility: .stable, comment: "The caller's tasks"),
            Function(
                name: QualifiedName("public", "sum_all"), arguments: [.init(name: "nums", type: "integer[]", hasDefault: false, isVariadic: true)],
                returns: .scalar(type: "integer"), returnsSet: false, volatility: .immutable, comment: nil),
            Function(
                name: QualifiedName("public", "echo"), arguments: [.init(name: "", type: "json", hasDefault: false)],
                returns: .record, returnsSet: true, volatility: .volatile, comment: nil),
            Function(name: QualifiedName("private", "hidden"), arguments: [], returns: .void, returnsSet: false, volatility: .volatile, comment: nil),
        ]
        var cache = SchemaCache(
            version: "42", relations: Dictionary(uniqueKeysWithValues: relations.map { ($0.name, $0) }), foreignKeys: keys,
            functions: Dictionary(grouping: functions, by: \.name))
        cache.schemaComments = ["public": "Todo API\nEverything about tasks."]
        return cache
    }

    static let grantsAll = ["SELECT", "INSERT", "UPDATE", "DELETE"]

    /// todos: RLS on, an owner policy pair and a restrictive one; profiles: RLS off; the view as its owner.
    static func security() -> [QualifiedName: TableSecurity] {
        let everyone = ["anon": grantsAll, "authenticated": grantsAll, "service_role": grantsAll]
        return [
            todos: TableSecurity(
                relation: todos, rowLevelSecurity: true, forced: true,
                policies: [
                    Policy(name: "not archived", command: .all, permissive: false, roles: ["public"], using: "(NOT done)", check: nil),
                    Policy(name: "owners read", command: .select, roles: ["authenticated"], using: "(owner = auth.uid())", check: nil),
                    Policy(name: "owners write", command: .insert, roles: ["authenticated"], using: nil, check: "(owner = auth.uid())"),
                    Policy(name: "public titles", command: .select, roles: ["anon"], using: "true", check: nil),
                ],
                privileges: everyone),
            profiles: TableSecurity(relation: profiles, rowLevelSecurity: false, forced: false, policies: [], privileges: everyone),
            openTodos: TableSecurity(relation: openTodos, rowLevelSecurity: false, forced: false, policies: [], privileges: everyone),
            odd: TableSecurity(relation: odd, rowLevelSecurity: true, forced: false, policies: [], privileges: ["anon": ["SELECT"]]),
        ]
    }

    static func context(followsCheckout: Bool = false) -> AgentDocsContext {
        AgentDocsContext(
            project: "shop", branch: "feature", followsCheckout: followsCheckout,
            baseURL: followsCheckout ? "http://127.0.0.1:8420/p/shop/" : "http://127.0.0.1:8420/p/shop/b/feature",
            serviceURL: "http://127.0.0.1:8420")
    }

    static func openAPI(_ cache: SchemaCache = cache()) throws -> [String: Any] {
        let bytes = OpenAPIDocument.json(schema: cache, context: context(), security: security())
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    // MARK: OpenAPI

    @Test("the document is OpenAPI 3.1 with the branch's server, the keys' schemes and every table, view and function")
    func openAPIShape() throws {
        let document = try Self.openAPI()
        #expect(document["openapi"] as? String == "3.1.0")
        let info = try #require(document["info"] as? [String: Any])
        #expect(info["title"] as? String == "Todo API")
        #expect(info["version"] as? String == "42")
        let servers = try #require(document["servers"] as? [[String: Any]])
        #expect(servers.first?["url"] as? String == "http://127.0.0.1:8420/p/shop/b/feature")
        let components = try #require(document["components"] as? [String: Any])
        let schemes = try #require(components["securitySchemes"] as? [String: [String: Any]])
        #expect(schemes["apikey"]?["type"] as? String == "apiKey" && schemes["apikey"]?["in"] as? String == "header" && schemes["apikey"]?["name"] as? String == "apikey")
        #expect(schemes["bearer"]?["type"] as? String == "http" && schemes["bearer"]?["scheme"] as? String == "bearer")

        let paths = try #require(document["paths"] as? [String: [String: Any]])
        #expect(Set(paths["/rest/v1/todos"]?.keys.map { $0 } ?? []) == ["get", "post", "patch", "delete"])
        #expect(Set(paths["/rest/v1/open_todos"]?.keys.map { $0 } ?? []) == ["get"])
        #expect(paths["/rest/v1/odd%20name%2F%7Bx%7D"] != nil)
        #expect(paths["/rest/v1/secrets"] == nil && paths["/rest/v1/rpc/hidden"] == nil)
        #expect(Set(paths["/rest/v1/rpc/add"]?.keys.map { $0 } ?? []) == ["get", "post"])
        #expect(Set(paths["/rest/v1/rpc/touch"]?.keys.map { $0 } ?? []) == ["post"])
        #expect(Set(paths["/rest/v1/rpc/echo"]?.keys.map { $0 } ?? []) == ["post"])
        for auth in ["/auth/v1/signup", "/auth/v1/token", "/auth/v1/user", "/auth/v1/logout", "/auth/v1/admin/users", "/auth/v1/admin/users/{id}",
                     "/auth/v1/otp", "/auth/v1/recover", "/auth/v1/resend", "/auth/v1/verify", "/auth/v1/invite", "/auth/v1/admin/generate_link"] {
            #expect(paths[auth] != nil, "\(auth)")
        }
        for documentPath in ["/openapi.json", "/swagger.json", "/ai-spec.md", "/rest/v1/"] { #expect(paths[documentPath] != nil, "\(documentPath)") }
        let token = try #require(paths["/auth/v1/token"]?["post"] as? [String: Any])
        let grant = try #require((token["parameters"] as? [[String: Any]])?.first)
        #expect((grant["schema"] as? [String: Any])?["enum"] as? [String] == ["password", "refresh_token", "pkce"])
        let otp = try #require(paths["/auth/v1/otp"]?["post"] as? [String: Any])
        #expect((otp["description"] as? String)?.contains("email_provider_disabled") == true, "a project without mail says so")
    }

    @Test("the brief states the project's sign-up rule and, with a mail server, the mailed flows")
    func briefFollowsAuthSettings() throws {
        var context = AgentDocsContext(project: "app", branch: "main", followsCheckout: true, baseURL: "https://h/p/app", serviceURL: "https://h")
        let plain = AgentBrief.markdown(schema: SchemaCache(version: "1", relations: [:], foreignKeys: [], functions: [:]), security: [:], context: context)
        #expect(plain.contains("Sign-ups are confirmed at once") && plain.contains("sends no mail yet") && !plain.contains("/auth/v1/otp"))
        context.auth = .init()
        context.auth.confirmEmail = true
        context.auth.sendsMail = true
        let mailing = AgentBrief.markdown(schema: SchemaCache(version: "1", relations: [:], foreignKeys: [], functions: [:]), security: [:], context: context)
        #expect(mailing.contains("New users confirm their email first") && mailing.contains("`POST /auth/v1/otp`") && !mailing.contains("sends no mail yet"))
    }

    @Test("sign-in providers: /auth/v1/authorize and the brief's paragraph only list the providers turned on")
    func providers() throws {
        var context = Self.context()
        let empty = SchemaCache(version: "1", relations: [:], foreignKeys: [], functions: [:])
        func paths(_ context: AgentDocsContext) throws -> [String: [String: Any]] {
            let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json(schema: empty, context: context, security: [:]))) as? [String: Any])
            return try #require(document["paths"] as? [String: [String: Any]])
        }
        #expect(try paths(context)["/auth/v1/authorize"] == nil, "no provider on: nothing to document")
        #expect(AgentBrief.markdown(schema: empty, security: [:], context: context).contains("No sign-in provider"))
        context.auth.providers = ["github", "keycloak"]
        let authorize = try #require(try paths(context)["/auth/v1/authorize"]?["get"] as? [String: Any])
        let parameters = try #require(authorize["parameters"] as? [[String: Any]])
        let provider = try #require(parameters.first { $0["name"] as? String == "provider" })
        #expect((provider["schema"] as? [String: Any])?["enum"] as? [String] == ["github", "keycloak"] && provider["required"] as? Bool == true)
        #expect((authorize["security"] as? [Any])?.isEmpty == true, "a browser opens it: no key")
        #expect((authorize["responses"] as? [String: Any])?["302"] != nil)
        let brief = AgentBrief.markdown(schema: empty, security: [:], context: context)
        #expect(brief.contains("`github`, `keycloak`") && brief.contains("signInWithOAuth({ provider: \"github\""))
    }

    @Test("columns carry type, format, nullability, defaults, enums, keys and comments")
    func columns() throws {
        let document = try Self.openAPI()
        let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
        let todos = try #require(schemas["todos"])
        let properties = try #require(todos["properties"] as? [String: [String: Any]])
        #expect(properties["id"]?["type"] as? String == "integer")
        #expect(properties["id"]?["format"] as? String == "int64")
        #expect(properties["id"]?["x-primary-key"] as? Bool == true)
        #expect(properties["reviewer"]?["type"] as? [String] == ["string", "null"])
        #expect(properties["owner"]?["type"] as? String == "string")
        #expect(properties["owner"]?["format"] as? String == "uuid")
        #expect((properties["owner"]?["description"] as? String)?.hasPrefix("Who owns it") == true)
        let key = try #require(properties["owner"]?["x-foreign-key"] as? [String: String])
        #expect(key == ["table": "profiles", "column": "id", "constraint": "todos_owner_fkey"])
        #expect(properties["done"]?["default"] as? Bool == false)
        let labels = try #require(properties["status"]?["enum"] as? [Any])
        #expect(labels.count == 3 && labels[0] as? String == "open" && labels[1] as? String == "closed" && labels[2] is NSNull)
        #expect(properties["status"]?["default"] as? String == "open")
        #expect(properties["tags"]?["type"] as? [String] == ["array", "null"])
        #expect(properties["due"]?["format"] as? String == "date-time")
        #expect(properties["score"]?["x-pg-type"] as? String == "numeric(10,2)")
        #expect(properties["slug"]?["readOnly"] as? Bool == true)
        #expect(todos["x-primary-key"] as? [String] == ["id"])
        #expect(todos["x-insert-required"] as? [String] == ["owner", "title"])
        #expect(todos["x-row-level-security"] as? Bool == true)
        #expect((todos["description"] as? String)?.hasPrefix("Things to do") == true)
        let email = try #require((schemas["profiles"]?["properties"] as? [String: [String: Any]])?["email"])
        #expect(email["maxLength"] as? Int == 200)
        // Component keys are sanitized and do not collide with the document's own.
        #expect(schemas["odd_name__x_"] != nil)
        #expect(schemas["RESTError"] != nil && schemas["AuthSession"] != nil)
    }

    @Test("every operation has an example and code samples; filters are documented per column")
    func examples() throws {
        let document = try Self.openAPI()
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let parameters = try #require((document["components"] as? [String: Any])?["parameters"] as? [String: [String: Any]])
        var operations = 0
        for (path, item) in paths {
            for (method, value) in item {
                let operation = try #require(value as? [String: Any], "\(method) \(path)")
                operations += 1
                let samples = operation["x-codeSamples"] as? [[String: String]] ?? []
                #expect(!samples.isEmpty, "\(method) \(path) has no code sample")
                #expect(samples.allSatisfy { !($0["source"] ?? "").isEmpty })
                #expect(operation["operationId"] is String)
            }
        }
        #expect(operations > 20)
        let read = try #require(paths["/rest/v1/todos"]?["get"] as? [String: Any])
        let labels = (read["x-codeSamples"] as? [[String: String]] ?? []).compactMap { $0["label"] }
        #expect(labels == ["curl", "supabase-js", "supabase-py"])
        let example = ((((read["responses"] as? [String: Any])?["200"] as? [String: Any])?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["example"]
        #expect((example as? [[String: Any]])?.first?["title"] as? String == "example title")
        let refs = (read["parameters"] as? [[String: String]] ?? []).compactMap { $0["$ref"] }
        #expect(refs.contains("#/components/parameters/todos.title"))
        #expect(refs.contains("#/components/parameters/select") && refs.contains("#/components/parameters/range"))
        #expect(parameters["todos.title"]?["example"] as? String == "eq.example title")
        #expect((parameters["todos.title"]?["description"] as? String)?.contains("ilike") == true)
        #expect(parameters["todos.done"]?["example"] as? String == "is.true")
        // A column named like a reserved key cannot be a filter.
        #expect(parameters.keys.contains { $0.hasSuffix(".select") } == false)
        let insert = try #require(paths["/rest/v1/todos"]?["post"] as? [String: Any])
        let body = (((insert["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["example"] as? [String: Any]
        #expect(Set(body?.keys.map { $0 } ?? []) == ["owner", "reviewer", "title", "due"])
    }

    @Test("the bytes do not depend on dictionary order")
    func stable() {
        let first = OpenAPIDocument.json(schema: Self.cache(), context: Self.context(), security: Self.security())
        let second = OpenAPIDocument.json(schema: Self.cache(), context: Self.context(), security: Self.security())
        #expect(first == second)
        #expect(AgentBrief.markdown(schema: Self.cache(), security: Self.security(), context: Self.context())
            == AgentBrief.markdown(schema: Self.cache(), security: Self.security(), context: Self.context()))
    }

    @Test("openapi-spec-validator accepts the document, and that of an empty schema (skipped without the virtualenv)")
    func validates() async throws {
        let python = ProcessInfo.processInfo.environment["BRANCH_TEST_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/.venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else { return }
        let script = "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(sys.stdin))\nprint('valid')"
        for cache in [Self.cache(), SchemaCache.empty] {
            let bytes = OpenAPIDocument.json(schema: cache, context: Self.context(followsCheckout: true), security: Self.security())
            let result = try await Command.run(python, ["-c", script], input: String(decoding: bytes, as: UTF8.self), check: false)
            #expect(result.status == 0 && result.stdout.contains("valid"), "\(result.stderr)")
        }
    }

    // MARK: The brief

    @Test("the brief has the schema, relations, policies in words, examples per table, keys, limits and migrations")
    func brief() {
        let text = AgentBrief.markdown(schema: Self.cache(), security: Self.security(), context: Self.context())
        for expected in [
            "# Data API brief: branch `feature` of project `shop`",
            "| base URL (`SUPABASE_URL`) | `http://127.0.0.1:8420/p/shop/b/feature` |",
            "### Table `todos`", "### Table `profiles`", "### View `open_todos`", "`odd name/{x}`",
            "Things to do", "Who owns it", "required on insert", "→ `profiles.id`",
            "`todos.owner` → `profiles.id` (many-to-one, `todos_owner_fkey`)",
            "`todos?select=*,profiles!todos_owner_fkey(*)`; the other way `profiles?select=*,todos!todos_owner_fkey(*)`",
            "Row-level security is **on** and forced",
            "`owners read` (permissive), for SELECT, to `authenticated`: rows are readable when `(owner = auth.uid())`.",
            "`owners write` (permissive), for INSERT, to `authenticated`: new rows may be inserted when `(owner = auth.uid())`.",
            "`not archived` (restrictive: it must hold as well as a permissive one), for ALL, to every role",
            "`public titles` (permissive), for SELECT, to `anon`: rows are readable: all of them.",
            "`anon` can SELECT (rows the policies let through); `authenticated` can SELECT, INSERT (rows the policies let through)",
            "Row-level security is **off**", "with no policy: anon and signed-in users see no rows",
            "without `security_invoker`: it reads its tables as its owner",
            ".from(\"todos\")", "supabase.table(\"todos\")", "curl \"$SUPABASE_URL/rest/v1/todos?select=*,profiles!todos_owner_fkey(*)&id=eq.1&order=id.asc&limit=10\"",
            ".insert({\"owner\": \"3fa85f64-5717-4562-b3fc-2c963f66afa6\"",
            "supabase.rpc(\"add\", {\"a\": 1})", "/rest/v1/rpc/my_todos",
            "at most 1000 rows", "at most 50 MB", "timeout of 30 s", "over 10 MB",
            "bypasses row-level security", "the instance's admin key",
            "POST http://127.0.0.1:8420/api/v1/projects/shop/branches/feature/migrations",
            "http://127.0.0.1:8420/api/v1/projects/shop/branches/feature/migrations?check=true",
            "/migrations/{version}/rollback", "branch migrate check FILE", "branch migrate rollback VERSION", "branch migrate list",
            "http://127.0.0.1:8420/api/v1/projects/shop/branches/feature/sql", "branch sql",
        ] {
            #expect(text.contains(expected), "missing: \(expected)")
        }
        #expect(!text.contains("secrets") && !text.contains("hidden"))
        // Every table gets a read example in each language.
        for table in ["todos", "profiles", "open_todos"] {
            #expect(text.contains(".from(\"\(table)\")") && text.contains("supabase.table(\"\(table)\")") && text.contains("/rest/v1/\(table)?select="), "\(table)")
        }
    }

    @Test("the brief of the project's address says it follows checkout; an empty schema says so")
    func briefOfProject() {
        let text = AgentBrief.markdown(schema: .empty, security: [:], context: Self.context(followsCheckout: true))
        #expect(text.contains("project `shop`, whose address follows `branch checkout` (now branch `feature`)"))
        #expect(text.contains("`http://127.0.0.1:8420/p/shop`"))
        #expect(!text.contains("/p/shop/`"))
        #expect(text.contains("Empty: no table, view or function yet."))
    }

    @Test("policies in words: commands, USING and WITH CHECK, roles, and what each role may do")
    func policyWords() {
        let update = Policy(name: "edit own", command: .update, roles: ["authenticated", "anon"], using: "(owner = auth.uid())", check: "(owner = auth.uid())")
        #expect(PolicyWords.sentence(update)
            == "`edit own` (permissive), for UPDATE, to `authenticated`, `anon`: rows may be updated when `(owner = auth.uid())`, and the changed row must satisfy `(owner = auth.uid())`.")
        let delete = Policy(name: "never", command: .delete, using: "false", check: nil)
        #expect(PolicyWords.sentence(delete).hasSuffix("rows may be deleted: none."))
        let subquery = Policy(name: "sub", command: .select, using: "(id IN ( SELECT t.id\n   FROM t\n  WHERE (t.owner = auth.uid())))", check: nil)
        #expect(PolicyWords.sentence(subquery).hasSuffix("rows are readable when `(id IN (SELECT t.id FROM t WHERE (t.owner = auth.uid())))`."))
        let all = Policy(name: "mine", command: .all, using: "(owner = auth.uid())", check: nil)
        #expect(PolicyWords.sentence(all).hasSuffix(
            "rows may be read, updated and deleted when `(owner = auth.uid())`, and new and changed rows must satisfy `(owner = auth.uid())`."))
        var security = TableSecurity(relation: Self.todos, rowLevelSecurity: true, forced: false, policies: [update, delete], privileges: ["anon": ["SELECT", "UPDATE"]])
        #expect(PolicyWords.allowed("anon", security) == "UPDATE (rows the policies let through)")
        #expect(PolicyWords.allowed("authenticated", security) == "nothing")
        security.rowLevelSecurity = false
        let relation = Relation(name: Self.todos, kind: .table, comment: nil, columns: [], primaryKey: [], insertable: true, updatable: true, deletable: true)
        #expect(PolicyWords.describe(relation, security: security).first?.contains("Grants: `anon` SELECT, UPDATE.") == true)
    }

    // MARK: Routes

    @Test("the documents' paths route to the project or one branch; others are not data API routes")
    func routes() {
        let project = DataAPIRoute(path: "/p/shop/openapi.json")
        #expect(project?.service == .openAPI && project?.branch == nil && project?.prefix == "/p/shop" && project?.path == "/openapi.json")
        #expect(DataAPIRoute(path: "/p/shop/swagger.json")?.service == .openAPI)
        let brief = DataAPIRoute(path: "/p/shop/b/feat/ai-spec.md")
        #expect(brief?.service == .brief && brief?.branch == "feat" && brief?.prefix == "/p/shop/b/feat")
        #expect(DataAPIRoute(path: "/p/shop/b/feat/swagger.json")?.service == .openAPI)
        #expect(DataAPIRoute(path: "/p/shop/rest/v1/todos")?.service == .rest)
        for other in ["/p/shop/openapi.yaml", "/p/shop/openapi.json/x", "/p/shop/b/openapi.json", "/p/shop/openapi.json/v1/x", "/p/shop/ai-spec.md/"] {
            #expect(DataAPIRoute(path: other) == nil, "\(other)")
        }
    }
}
