import BranchCore
import BranchPostgres
@testable import BranchREST
import BranchSystem
import Foundation
import Testing

/// The data API's view of a database: PostgREST's error statuses, its Swagger document, and the
/// schema cache read from a real catalog.
@Suite("REST schema and errors")
struct RESTSchemaTests {
    static let anon = RequestIdentity(role: "anon", claimsJSON: #"{"role":"anon"}"#)
    static let user = RequestIdentity(role: "authenticated", claimsJSON: #"{"role":"authenticated"}"#)

    static func serverError(_ sqlState: String, _ message: String = "failed", detail: String? = nil, hint: String? = nil) -> PostgresError {
        PostgresError(
            .postgresQueryFailed, "ERROR: \(message)", sqlState: sqlState,
            server: PostgresError.ServerFields(message: message, detail: detail, hint: hint))
    }

    // MARK: Errors

    /// (SQLSTATE, server message, ran as anon, expected status): DATA-API.md's table and PostgREST's.
    static let statuses: [(String, String, Bool, Int)] = [
        ("23505", "duplicate key value violates unique constraint \"todos_pkey\"", false, 409),
        ("23503", "insert or update on table violates foreign key constraint", false, 409),
        ("23502", "null value in column \"title\" violates not-null constraint", false, 400),
        ("23514", "new row violates check constraint", false, 400),
        ("22P02", "invalid input syntax for type integer: \"x\"", false, 400),
        ("22003", "value out of range", false, 400),
        ("42703", "column todos.nope does not exist", false, 400),
        ("P0001", "raised by a function", false, 400),
        ("21000", "DELETE requires a WHERE clause", false, 400),
        ("21000", "more than one row returned by a subquery used as an expression", false, 500),
        ("42P01", "relation \"public.nope\" does not exist", false, 404),
        ("42883", "function public.nope() does not exist", false, 404),
        ("42501", "new row violates row-level security policy for table \"todos\"", true, 401),
        ("42501", "permission denied for table todos", false, 403),
        ("25006", "cannot execute INSERT in a read-only transaction", false, 405),
        ("57014", "canceling statement due to statement timeout", false, 500),
        ("57P01", "terminating connection due to administrator command", false, 503),
        ("08006", "connection failure", false, 503),
        ("53300", "too many connections", false, 503),
        ("53400", "configuration limit exceeded", false, 500),
        ("40001", "could not serialize access", false, 500),
        ("28000", "invalid authorization", false, 403),
        ("42P17", "infinite recursion detected in policy", false, 500),
        ("XX000", "internal error", false, 500),
        ("P0002", "no data found", false, 500),
        ("PT402", "Payment Required", false, 402),
        ("PT418", "I'm a teapot", true, 418),
        ("PTabc", "not a status", false, 500),
        ("22023", "role \"nobody\" does not exist", false, 401),
        ("22023", "invalid parameter", false, 400),
        ("42601", "syntax error", false, 400),
    ]

    @Test("each SQLSTATE gets PostgREST's status, code, message, details and hint", arguments: statuses)
    func statusOfSQLState(row: (String, String, Bool, Int)) {
        let (sqlState, message, anonymous, status) = row
        let error = RESTError(
            Self.serverError(sqlState, message, detail: "Key (id)=(1) already exists.", hint: "a hint"),
            identity: anonymous ? Self.anon : Self.user)
        #expect(error.status == status, "\(sqlState) \(message)")
        #expect(error.code == sqlState)
        #expect(error.message == message)
        #expect(error.details == "Key (id)=(1) already exists.")
        #expect(error.hint == "a hint")
    }

    @Test("the row-level security error keeps the server's message and has null details and hint")
    func rowLevelSecurity() {
        let error = RESTError(Self.serverError("42501", "new row violates row-level security policy for table \"todos\""), identity: Self.anon)
        #expect(error == RESTError(status: 401, code: "42501", message: "new row violates row-level security policy for table \"todos\""))
    }

    @Test("RAISE SQLSTATE 'PGRST' with JSON message and detail chooses the whole response")
    func raisedResponse() {
        let raised = RESTError(
            Self.serverError(
                "PGRST", #"{"code":"123","message":"Payment Required","details":"Quota exceeded","hint":"Upgrade your plan"}"#,
                detail: #"{"status":402,"headers":{"X-Powered-By":"Nerd Rage","A":"b"}}"#),
            identity: Self.user)
        #expect(raised == RESTError(status: 402, code: "123", message: "Payment Required", details: "Quota exceeded", hint: "Upgrade your plan"))
        #expect(raised.headers.map(\.0) == ["A", "X-Powered-By"])
        #expect(raised.headers.map(\.1) == ["b", "Nerd Rage"])

        let broken = RESTError(Self.serverError("PGRST", "not json", detail: #"{"status":402,"headers":{}}"#), identity: Self.user)
        #expect(broken.status == 500)
        #expect(broken.code == "PGRST121")
        let noDetail = RESTError(Self.serverError("PGRST", #"{"code":"1","message":"m"}"#), identity: Self.user)
        #expect(noDetail.code == "PGRST121")
    }

    @Test("failures the server never reported: 503 for a lost or refused connection, 500 otherwise, with our message")
    func clientFailures() {
        let refused = RESTError(PostgresError(.postgresConnectionFailed, "Could not connect to Postgres on port 5433 as postgres: refused"), identity: Self.anon)
        #expect(refused.status == 503)
        #expect(refused.code == "PGRST000")
        #expect(refused.details == "Could not connect to Postgres on port 5433 as postgres: refused")

        let lost = RESTError(PostgresError(.postgresQueryFailed, "server closed the connection unexpectedly"), identity: Self.anon)
        #expect(lost.status == 503)
        #expect(lost.details == "server closed the connection unexpectedly")

        let stopped = RESTError(PostgresError(.postgresQueryTimeout, "The statement did not finish within 200 ms and was cancelled."), identity: Self.anon)
        #expect(stopped == RESTError(status: 500, code: "57014", message: "The statement did not finish within 200 ms and was cancelled."))

        // Our own timeout reaches the server as a cancel: its SQLSTATE, our message.
        let timedOut = RESTError(
            PostgresError(.postgresQueryTimeout, "The statement did not finish within 200 ms and was cancelled.", sqlState: "57014"),
            identity: Self.user)
        #expect(timedOut.status == 500)
        #expect(timedOut.code == "57014")
        #expect(timedOut.message == "The statement did not finish within 200 ms and was cancelled.")
    }

    // MARK: Swagger document

    static func column(
        _ name: String, _ type: String, _ udt: String, nullable: Bool = true, default defaultExpression: String? = nil,
        identity: Bool = false, generated: Bool = false, comment: String? = nil, enumValues: [String] = []
    ) -> Column {
        Column(
            name: name, type: type, udtName: udt, nullable: nullable, defaultExpression: defaultExpression,
            isIdentity: identity, isGenerated: generated, comment: comment, enumValues: enumValues)
    }

    /// todos → users, a read-only view, a table in another schema, and functions.
    static func handBuiltCache() -> SchemaCache {
        let todos = QualifiedName("public", "todos")
        let users = QualifiedName("public", "users")
        let relations: [Relation] = [
            Relation(
                name: todos, kind: .table, comment: "Things to do\n\nOne row per task.",
                columns: [
                    column("id", "bigint", "int8", nullable: false, identity: true),
                    column("user_id", "bigint", "int8", comment: "Who owns it"),
                    column("title", "text", "text", nullable: false, comment: "What to do"),
                    column("done", "boolean", "bool", nullable: false, default: "false"),
                    column("status", "status", "status", default: "'open'::status", enumValues: ["open", "closed"]),
                    column("tags", "text[]", "_text", default: "'{}'::text[]"),
                    column("meta", "jsonb", "jsonb"),
                    column("name", "character varying(20)", "varchar", default: "'it''s'::character varying"),
                    column("score", "numeric(10,2)", "numeric", default: "'-1.5'::numeric"),
                    column("due", "timestamp with time zone", "timestamptz", default: "now()"),
                    column("slug", "text", "text", generated: true),
                    column("limit", "integer", "int4"),
                ],
                primaryKey: ["id"], insertable: true, updatable: true, deletable: true),
            Relation(
                name: users, kind: .table, comment: nil,
                columns: [column("id", "bigint", "int8", nullable: false, identity: true), column("email", "text", "text", nullable: false)],
                primaryKey: ["id"], insertable: true, updatable: true, deletable: true),
            Relation(
                name: QualifiedName("public", "todo view"), kind: .view, comment: nil,
                columns: [column("id", "bigint", "int8"), column("user_id", "bigint", "int8")],
                primaryKey: [], insertable: false, updatable: false, deletable: false),
            Relation(
                name: QualifiedName("private", "secrets"), kind: .table, comment: nil,
                columns: [column("id", "integer", "int4", nullable: false)],
                primaryKey: ["id"], insertable: true, updatable: true, deletable: true),
        ]
        let keys = [
            ForeignKey(constraintName: "todos_user_id_fkey", table: todos, columns: ["user_id"], referencedTable: users, referencedColumns: ["id"]),
            ForeignKey(
                constraintName: "todos_user_id_fkey", table: QualifiedName("public", "todo view"), columns: ["user_id"],
                referencedTable: users, referencedColumns: ["id"]),
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
            Function(
                name: QualifiedName("public", "touch"), arguments: [], returns: .void, returnsSet: false, volatility: .volatile, comment: nil),
            Function(
                name: QualifiedName("public", "user_todos"), arguments: [.init(name: "uid", type: "bigint", hasDefault: false)],
                returns: .relation(todos), returnsSet: true, volatility: .stable, comment: nil),
            Function(
                name: QualifiedName("public", "sum_all"), arguments: [.init(name: "nums", type: "integer[]", hasDefault: false, isVariadic: true)],
                returns: .scalar(type: "integer"), returnsSet: false, volatility: .immutable, comment: nil),
            Function(
                name: QualifiedName("private", "hidden"), arguments: [], returns: .void, returnsSet: false, volatility: .volatile, comment: nil),
        ]
        var cache = SchemaCache(
            version: "1", relations: Dictionary(uniqueKeysWithValues: relations.map { ($0.name, $0) }), foreignKeys: keys,
            functions: Dictionary(grouping: functions, by: \.name))
        cache.schemaComments = ["public": "Todo API\nEverything about tasks."]
        return cache
    }

    static func swagger(_ cache: SchemaCache = handBuiltCache()) throws -> [String: Any] {
        let bytes = SwaggerDocument.json(schema: cache, exposedSchema: "public", host: "localhost:8420", basePath: "/p/demo/rest/v1")
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    /// Every `$ref` in the document, resolved as a JSON pointer inside it.
    static func unresolvedReferences(in document: [String: Any]) -> [String] {
        var unresolved: [String] = []
        func resolve(_ reference: String) -> Bool {
            guard reference.hasPrefix("#/"), let decoded = String(reference.dropFirst(2)).removingPercentEncoding else { return false }
            var node: Any = document
            for token in decoded.split(separator: "/", omittingEmptySubsequences: false) {
                let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
                guard let object = node as? [String: Any], let next = object[key] else { return false }
                node = next
            }
            return true
        }
        func walk(_ node: Any) {
            if let object = node as? [String: Any] {
                if let reference = object["$ref"] as? String, !resolve(reference) { unresolved.append(reference) }
                object.values.forEach(walk)
            } else if let array = node as? [Any] {
                array.forEach(walk)
            }
        }
        walk(document)
        return unresolved
    }

    @Test("the document is Swagger 2.0 JSON with PostgREST's root keys, and its bytes do not depend on dictionary order")
    func documentRoot() async throws {
        let first = SwaggerDocument.json(schema: Self.handBuiltCache(), exposedSchema: "public", host: "localhost:8420", basePath: "/p/demo/rest/v1")
        let second = SwaggerDocument.json(schema: Self.handBuiltCache(), exposedSchema: "public", host: "localhost:8420", basePath: "/p/demo/rest/v1")
        #expect(first == second)
        let document = try Self.swagger()
        #expect(document["swagger"] as? String == "2.0")
        #expect(document["host"] as? String == "localhost:8420")
        #expect(document["basePath"] as? String == "/p/demo/rest/v1")
        #expect(document["schemes"] as? [String] == ["http"])
        #expect(document["consumes"] as? [String] == ["application/json", "application/vnd.pgrst.object+json", "text/csv"])
        #expect(document["produces"] as? [String] == ["application/json", "application/vnd.pgrst.object+json", "text/csv"])
        let info = try #require(document["info"] as? [String: Any])
        #expect(info["title"] as? String == "Todo API")
        #expect(info["description"] as? String == "Everything about tasks.")
        #expect(info["version"] is String)
        #expect(Self.unresolvedReferences(in: document) == [])
        try await Self.validateWithTool(first)
        // Sorted keys: "basePath" comes first, "swagger" after "schemes".
        let text = String(decoding: first, as: UTF8.self)
        #expect(text.hasPrefix(#"{"basePath":"/p/demo/rest/v1","consumes""#))

        var bare = Self.handBuiltCache()
        bare.schemaComments = [:]
        let defaults = try #require(try Self.swagger(bare)["info"] as? [String: Any])
        #expect(defaults["title"] as? String == "PostgREST API")
        #expect(defaults["description"] as? String == "This is a dynamic API generated by PostgREST")
        let noHost = SwaggerDocument.json(schema: bare, exposedSchema: "public", host: nil, basePath: "/")
        #expect(try JSONSerialization.jsonObject(with: Data(noHost)) as? [String: Any] != nil)
        #expect(!String(decoding: noHost, as: UTF8.self).contains(#""host""#))
    }

    @Test("paths: / and every relation and function of the exposed schema, with the operations each allows")
    func paths() throws {
        let paths = try #require(try Self.swagger()["paths"] as? [String: [String: Any]])
        #expect(paths.keys.sorted() == ["/", "/rpc/add", "/rpc/sum_all", "/rpc/touch", "/rpc/user_todos", "/todo%20view", "/todos", "/users"])
        #expect(paths["/"]?.keys.sorted() == ["get"])
        #expect(paths["/todos"]?.keys.sorted() == ["delete", "get", "patch", "post"])
        #expect(paths["/todo%20view"]?.keys.sorted() == ["get"])
        #expect(paths["/rpc/touch"]?.keys.sorted() == ["post"])
        #expect(paths["/rpc/add"]?.keys.sorted() == ["get", "post"])
        #expect(paths["/rpc/user_todos"]?.keys.sorted() == ["get", "post"])

        let get = try #require(paths["/todos"]?["get"] as? [String: Any])
        #expect(get["summary"] as? String == "Things to do")
        #expect(get["description"] as? String == "One row per task.")
        #expect(get["tags"] as? [String] == ["todos"])
        let references = (get["parameters"] as? [[String: String]])?.compactMap { $0["$ref"] }
        #expect(references?.first == "#/parameters/rowFilter.todos.id")
        // A column named like a reserved key cannot be filtered.
        #expect(references?.contains("#/parameters/rowFilter.todos.limit") == false)
        #expect(references?.suffix(7) == [
            "#/parameters/select", "#/parameters/order", "#/parameters/range", "#/parameters/rangeUnit",
            "#/parameters/offset", "#/parameters/limit", "#/parameters/preferCount",
        ])
        let ok = try #require((get["responses"] as? [String: [String: Any]])?["200"])
        #expect((ok["schema"] as? [String: Any])?["type"] as? String == "array")
        let post = try #require(paths["/todos"]?["post"] as? [String: Any])
        #expect((post["parameters"] as? [[String: String]])?.compactMap { $0["$ref"] } == [
            "#/parameters/body.todos", "#/parameters/select", "#/parameters/preferPost",
        ])
    }

    @Test("rpc: arguments as a JSON body and, for stable and immutable functions, as query parameters")
    func rpc() throws {
        let paths = try #require(try Self.swagger()["paths"] as? [String: [String: Any]])
        let post = try #require(paths["/rpc/add"]?["post"] as? [String: Any])
        #expect(post["summary"] as? String == "Adds")
        #expect(post["description"] as? String == "Two numbers.")
        #expect(post["tags"] as? [String] == ["(rpc) add"])
        let parameters = try #require(post["parameters"] as? [[String: Any]])
        let body = try #require(parameters.first)
        #expect(body["in"] as? String == "body")
        #expect(body["required"] as? Bool == true)
        let schema = try #require(body["schema"] as? [String: Any])
        #expect(schema["type"] as? String == "object")
        // `a` is required by both overloads; `b` has a default, `c` only exists in one.
        #expect(schema["required"] as? [String] == ["a"])
        let properties = try #require(schema["properties"] as? [String: [String: String]])
        #expect(properties.keys.sorted() == ["a", "b", "c"])
        #expect(properties["a"] == ["type": "integer", "format": "integer"])
        #expect(parameters.last?["$ref"] as? String == "#/parameters/preferParams")

        let get = try #require(paths["/rpc/add"]?["get"] as? [String: Any])
        let query = try #require(get["parameters"] as? [[String: Any]])
        #expect(query.map { $0["name"] as? String } == ["a", "b", "c"])
        #expect(query.map { $0["in"] as? String } == ["query", "query", "query"])
        #expect(query.map { $0["required"] as? Bool } == [true, false, false])

        let variadic = try #require((paths["/rpc/sum_all"]?["get"] as? [String: Any])?["parameters"] as? [[String: Any]])
        #expect(variadic.first?["type"] as? String == "array")
        #expect(variadic.first?["collectionFormat"] as? String == "multi")
        #expect((variadic.first?["items"] as? [String: String])?["type"] == "integer")
    }

    @Test("definitions: types, formats, required, enums, defaults, comments and key notes per column")
    func definitions() throws {
        let document = try Self.swagger()
        let definitions = try #require(document["definitions"] as? [String: [String: Any]])
        #expect(definitions.keys.sorted() == ["todo view", "todos", "users"])
        let todos = try #require(definitions["todos"])
        #expect(todos["type"] as? String == "object")
        #expect(todos["description"] as? String == "Things to do\n\nOne row per task.")
        #expect(todos["required"] as? [String] == ["title"])
        let properties = try #require(todos["properties"] as? [String: [String: Any]])
        #expect(properties["id"]?["type"] as? String == "integer")
        #expect(properties["id"]?["format"] as? String == "bigint")
        #expect(properties["id"]?["description"] as? String == "Note:\nThis is a Primary Key.<pk/>")
        #expect(properties["id"]?["x-nullable"] == nil)
        #expect(properties["user_id"]?["description"] as? String
            == "Who owns it\n\nNote:\nThis is a Foreign Key to `users.id`.<fk table='users' column='id'/>")
        #expect(properties["user_id"]?["x-nullable"] as? Bool == true)
        #expect(properties["title"]?["description"] as? String == "What to do")
        #expect(properties["title"]?["type"] as? String == "string")
        #expect(properties["done"]?["type"] as? String == "boolean")
        #expect(properties["done"]?["default"] as? Bool == false)
        #expect(properties["status"]?["enum"] as? [String] == ["open", "closed"])
        #expect(properties["status"]?["default"] as? String == "open")
        #expect(properties["tags"]?["type"] as? String == "array")
        #expect(properties["tags"]?["items"] as? [String: String] == ["type": "string"])
        #expect(properties["tags"]?["format"] as? String == "text[]")
        #expect(properties["tags"]?["default"] == nil)
        #expect(properties["meta"]?["type"] == nil)
        #expect(properties["meta"]?["format"] as? String == "jsonb")
        #expect(properties["name"]?["format"] as? String == "character varying")
        #expect(properties["name"]?["maxLength"] as? Int == 20)
        #expect(properties["name"]?["default"] as? String == "it's")
        #expect(properties["score"]?["type"] as? String == "number")
        #expect(properties["score"]?["format"] as? String == "numeric")
        #expect(properties["score"]?["default"] as? Double == -1.5)
        #expect(properties["due"]?["format"] as? String == "timestamp with time zone")
        #expect(properties["due"]?["default"] == nil)
        #expect(properties["slug"]?["readOnly"] as? Bool == true)

        let view = try #require((definitions["todo view"]?["properties"] as? [String: [String: Any]]))
        #expect(view["user_id"]?["description"] as? String == "Note:\nThis is a Foreign Key to `users.id`.<fk table='users' column='id'/>")
        #expect(definitions["todo view"]?["required"] == nil)

        let parameters = try #require(document["parameters"] as? [String: [String: Any]])
        #expect(parameters["body.todos"]?["in"] as? String == "body")
        #expect(parameters["rowFilter.todos.user_id"]?["description"] as? String == "Who owns it")
        #expect(parameters["rowFilter.todo view.id"]?["name"] as? String == "id")
        #expect(parameters["rangeUnit"]?["default"] as? String == "items")
    }

    @Test("type names lose their modifiers outside quotes")
    func formatNames() {
        #expect(SwaggerDocument.formatName("character varying(20)") == "character varying")
        #expect(SwaggerDocument.formatName("numeric(10,2)[]") == "numeric[]")
        #expect(SwaggerDocument.formatName("timestamp(3) with time zone") == "timestamp with time zone")
        #expect(SwaggerDocument.formatName(#""odd(1)type""#) == #""odd(1)type""#)
        #expect(SwaggerDocument.defaultValue("'a'::text || 'b'::text", type: "string") == nil)
        #expect(SwaggerDocument.defaultValue("'2024-01-01'::date", type: "string") == .string("2024-01-01"))
        #expect(SwaggerDocument.defaultValue("42", type: "integer") == .integer(42))
        #expect(SwaggerDocument.defaultValue("nextval('todos_id_seq'::regclass)", type: "integer") == nil)
    }

    /// Runs openapi-spec-validator on the document, as the data API's schema tests do, when the
    /// tool is on the test process's PATH (without it, the structural checks above still run).
    static func validateWithTool(_ document: [UInt8]) async throws {
        let environment = ProcessInfo.processInfo.environment
        let directories = (environment["PATH"] ?? "").split(separator: ":")
        guard let validator = directories.map({ "\($0)/openapi-spec-validator" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { return }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("branch-swagger-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(document).write(to: file)
        let result = try await Command.run(
            validator, [file.path], environment: ["PATH": environment["PATH"] ?? "", "HOME": environment["HOME"] ?? "/"], check: false)
        #expect(result.succeeded, "\(result.stdout)\(result.stderr)")
    }

    // MARK: Schema loader against a real catalog

    /// Tables with simple, composite and one-to-one keys, a junction table, views (renamed, joined,
    /// chained), a materialized view, a partitioned table, enums, domains, comments and functions.
    static let fixture = """
        create schema private;
        comment on schema public is 'Todo API';
        create type mood as enum ('sad', 'ok', 'happy');
        create domain positive_int as integer check (value > 0) not null;
        create table users (id bigint generated always as identity primary key, email text not null unique, name varchar(40),
          mood mood default 'ok', created_at timestamptz not null default now());
        comment on table users is 'People who sign in';
        comment on column users.email is 'Where to reach them';
        create table todos (id serial primary key, user_id bigint references users(id), title text not null,
          done boolean not null default false, tags text[] default '{}', meta jsonb, score numeric(10,2), rank positive_int,
          slug text generated always as (lower(title)) stored);
        create table profiles (user_id bigint primary key references users(id), bio text);
        create table orgs (region text, code int, name text, primary key (region, code));
        create table teams (id int primary key, org_region text, org_code int, foreign key (org_region, org_code) references orgs(region, code));
        create table tags (id int primary key, label text);
        create table todo_tags (todo_id int references todos(id), tag_id int references tags(id), primary key (todo_id, tag_id));
        create table private.secrets (id int primary key, owner_id bigint references users(id));
        create view open_todos as select id, user_id, title from todos where not done;
        create view renamed as select id as todo_id, user_id as owner from todos;
        create view joined as select t.id, t.user_id, u.email from todos t join users u on u.id = t.user_id;
        create view chained as select id, user_id from open_todos;
        create view computed as select upper(x::text) as user_id, id from (select user_id as x, id from todos) s;
        create view "spaced view" as select id as "the id", user_id as "user id" from todos;
        create materialized view todo_counts as select user_id, count(*) as n from todos group by user_id;
        create table "odd/{name}~1" (id int primary key, "limit" int, "select" text, "range" text);
        create table parts (id int, at date) partition by range (at);
        create table parts_2024 partition of parts for values from ('2024-01-01') to ('2025-01-01');
        create function add(a integer, b integer default 1) returns integer language sql immutable as 'select a + b';
        comment on function add(integer, integer) is 'Adds two numbers';
        create function add(a text, b text) returns text language sql immutable as 'select a || b';
        create function user_todos(uid bigint) returns setof todos language sql stable as 'select * from todos where user_id = uid';
        create function one_user(id bigint) returns users language sql stable as 'select * from users where users.id = one_user.id';
        create function touch() returns void language sql as 'select';
        create function stats(out total bigint, out done bigint) language sql stable as 'select count(*), count(*) filter (where done) from todos';
        create function pairs() returns table(a int, b text) language sql as 'select 1, ''x''';
        create function sum_all(variadic nums int[]) returns int language sql immutable as 'select sum(n)::int from unnest(nums) n';
        create function raw_json(json) returns json language sql as 'select $1';
        create function not_callable(int, int) returns int language sql as 'select 1';
        create function trig() returns trigger language plpgsql as 'begin return new; end';
        create function secret_row() returns private.secrets language sql as 'select * from private.secrets limit 1';
        create procedure proc() language sql as 'select 1';
        """

    @Suite("SchemaLoader against a throw-away Postgres", .serialized, .enabled(if: ThrowAwayPostgres.canRun), ThrowAwayPostgres.Scope())
    struct Loader {
        var pg: ThrowAwayPostgres { get throws { try #require(ThrowAwayPostgres.current) } }

        /// A fresh database with the fixture, for `body`.
        func withFixture(_ name: String, _ body: (PGConnection) async throws -> Void) async throws {
            let pg = try pg
            try await withConnection(pg.connection()) { admin in
                try await admin.execute("CREATE DATABASE \(name)")
            }
            try await withConnection(pg.connection(database: name)) { connection in
                try await connection.execute(RESTSchemaTests.fixture)
                try await body(connection)
            }
        }

        @Test("relations, columns and primary keys of the loaded schemas only")
        func relations() async throws {
            try await withFixture("relations") { connection in
                let cache = try await SchemaLoader.load(connection: connection, schemas: ["public"])
                let names = cache.relations.keys.sorted().map(\.description)
                #expect(names == [
                    "public.chained", "public.computed", "public.joined", "public.odd/{name}~1", "public.open_todos", "public.orgs", "public.parts", "public.profiles",
                    "public.renamed", "public.spaced view", "public.tags", "public.teams", "public.todo_counts", "public.todo_tags",
                    "public.todos", "public.users",
                ])
                #expect(cache.schemaComments == ["public": "Todo API"])
                let users = try #require(cache.relations[QualifiedName("public", "users")])
                #expect(users.kind == .table)
                #expect(users.comment == "People who sign in")
                #expect(users.primaryKey == ["id"])
                #expect(users.columns.map(\.name) == ["id", "email", "name", "mood", "created_at"])
                let id = try #require(users.column("id"))
                #expect(id.isIdentity && !id.nullable && id.defaultExpression == nil && !id.isRequired)
                #expect(id.type == "bigint" && id.udtName == "int8")
                let email = try #require(users.column("email"))
                #expect(email.isRequired && email.comment == "Where to reach them")
                #expect(users.column("name")?.type == "character varying(40)")
                #expect(users.column("mood")?.enumValues == ["sad", "ok", "happy"])
                #expect(users.column("mood")?.defaultExpression == "'ok'::mood")
                #expect(users.column("created_at")?.defaultExpression == "now()")

                let todos = try #require(cache.relations[QualifiedName("public", "todos")])
                #expect(todos.column("id")?.defaultExpression == "nextval('todos_id_seq'::regclass)")
                #expect(todos.column("tags")?.udtName == "_text")
                #expect(todos.column("tags")?.type == "text[]")
                #expect(todos.column("score")?.type == "numeric(10,2)")
                // A domain: its base type for JSON types, its NOT NULL for nullability.
                #expect(todos.column("rank")?.type == "positive_int")
                #expect(todos.column("rank")?.udtName == "int4")
                #expect(todos.column("rank")?.nullable == false)
                let slug = try #require(todos.column("slug"))
                #expect(slug.isGenerated && slug.defaultExpression == nil)

                #expect(cache.relations[QualifiedName("public", "orgs")]?.primaryKey == ["region", "code"])
                #expect(cache.relations[QualifiedName("public", "todo_tags")]?.primaryKey == ["todo_id", "tag_id"])
                #expect(cache.relations[QualifiedName("public", "parts")]?.kind == .partitionedTable)
                #expect(cache.relations[QualifiedName("public", "todo_counts")]?.kind == .materializedView)
                let view = try #require(cache.relations[QualifiedName("public", "open_todos")])
                #expect(view.kind == .view && view.primaryKey == [] && view.insertable && view.updatable && view.deletable)
                let joined = try #require(cache.relations[QualifiedName("public", "joined")])
                #expect(!joined.insertable && !joined.updatable && !joined.deletable)
                #expect(cache.relations[QualifiedName("public", "todo_counts")]?.insertable == false)
            }
        }

        @Test("foreign keys: composite pairs in order, one-to-one, and the keys views keep")
        func foreignKeys() async throws {
            try await withFixture("keys") { connection in
                let cache = try await SchemaLoader.load(connection: connection, schemas: ["public"])
                func keys(_ table: String) -> [ForeignKey] { cache.foreignKeys.filter { $0.table == QualifiedName("public", table) } }
                let teams = try #require(keys("teams").first)
                #expect(teams.columns == ["org_region", "org_code"])
                #expect(teams.referencedTable == QualifiedName("public", "orgs"))
                #expect(teams.referencedColumns == ["region", "code"])
                #expect(!teams.isOneToOne)
                #expect(keys("profiles").first?.isOneToOne == true)
                #expect(keys("todos").map(\.isOneToOne) == [false])
                let junction = keys("todo_tags").filter { ["todos", "tags"].contains($0.referencedTable.name) }
                #expect(junction.map(\.constraintName) == ["todo_tags_tag_id_fkey", "todo_tags_todo_id_fkey"])
                #expect(!cache.foreignKeys.contains { $0.table.schema == "private" }, "private is not loaded")

                // Views keep the keys of the columns they read, under their own column names.
                func pairs(_ table: String) -> [String] {
                    keys(table).map { "\($0.columns) -> \($0.referencedTable.name)\($0.referencedColumns) (\($0.constraintName))" }
                }
                #expect(pairs("open_todos") == [#"["user_id"] -> users["id"] (todos_user_id_fkey)"#])
                #expect(pairs("renamed") == [#"["owner"] -> users["id"] (todos_user_id_fkey)"#])
                #expect(pairs("joined") == [#"["user_id"] -> users["id"] (todos_user_id_fkey)"#])
                #expect(pairs("chained") == [#"["user_id"] -> users["id"] (todos_user_id_fkey)"#])
                #expect(pairs("spaced view") == [#"["user id"] -> users["id"] (todos_user_id_fkey)"#])
                // An expression over a subquery's key column is not the key.
                #expect(pairs("computed") == [])
                #expect(pairs("todo_counts") == [#"["user_id"] -> users["id"] (todos_user_id_fkey)"#])
                // ... and on the referenced side: the junction table points at the views of todos too.
                let toViews = keys("todo_tags").filter { $0.referencedTable.name != "todos" && $0.referencedTable.name != "tags" }
                #expect(Set(toViews.map { "\($0.referencedTable.name)\($0.referencedColumns)" }) == [
                    #"chained["id"]"#, #"computed["id"]"#, #"joined["id"]"#, #"open_todos["id"]"#, #"renamed["todo_id"]"#, #"spaced view["the id"]"#,
                ])

                let both = try await SchemaLoader.load(connection: connection, schemas: ["public", "private"])
                #expect(both.foreignKeys.contains { $0.table == QualifiedName("private", "secrets") && $0.referencedTable.name == "users" })
            }
        }

        @Test("functions: arguments, defaults, variadic, return kinds, volatility, overloads and what rpc cannot call")
        func functions() async throws {
            try await withFixture("functions") { connection in
                let cache = try await SchemaLoader.load(connection: connection, schemas: ["public"])
                #expect(cache.functions.keys.map(\.name).sorted() == [
                    "add", "one_user", "pairs", "raw_json", "secret_row", "stats", "sum_all", "touch", "user_todos",
                ])
                let add = try #require(cache.functions[QualifiedName("public", "add")])
                #expect(add.count == 2)
                let integers = try #require(add.first { $0.arguments.first?.type == "integer" })
                #expect(integers.arguments.map(\.name) == ["a", "b"])
                #expect(integers.arguments.map(\.hasDefault) == [false, true])
                #expect(integers.volatility == .immutable)
                #expect(integers.comment == "Adds two numbers")
                guard case .scalar(let type) = integers.returns else { Issue.record("add returns \(integers.returns)"); return }
                #expect(type == "integer")

                let todos = try #require(cache.functions[QualifiedName("public", "user_todos")]?.first)
                guard case .relation(let relation) = todos.returns else { Issue.record("user_todos returns \(todos.returns)"); return }
                #expect(relation == QualifiedName("public", "todos"))
                #expect(todos.returnsSet && todos.volatility == .stable)
                let one = try #require(cache.functions[QualifiedName("public", "one_user")]?.first)
                #expect(!one.returnsSet)
                guard case .void = try #require(cache.functions[QualifiedName("public", "touch")]?.first).returns else {
                    Issue.record("touch is not void"); return
                }
                let stats = try #require(cache.functions[QualifiedName("public", "stats")]?.first)
                guard case .record = stats.returns else { Issue.record("stats returns \(stats.returns)"); return }
                #expect(stats.arguments.isEmpty && !stats.returnsSet)
                let pairs = try #require(cache.functions[QualifiedName("public", "pairs")]?.first)
                guard case .record = pairs.returns else { Issue.record("pairs returns \(pairs.returns)"); return }
                #expect(pairs.returnsSet && pairs.volatility == .volatile)
                // A row type of an unloaded schema's table is only known from the result.
                guard case .record = try #require(cache.functions[QualifiedName("public", "secret_row")]?.first).returns else {
                    Issue.record("secret_row is not a record"); return
                }
                let variadic = try #require(cache.functions[QualifiedName("public", "sum_all")]?.first?.arguments.first)
                #expect(variadic.isVariadic && variadic.type == "integer[]" && variadic.name == "nums")
                #expect(cache.functions[QualifiedName("public", "raw_json")]?.first?.arguments.map(\.name) == [""])
            }
        }

        @Test("the version: a catalog fingerprint that changes with DDL before the bootstrap, then its counter")
        func version() async throws {
            try await withFixture("version") { connection in
                let before = try #require(try await connection.query(SchemaLoader.versionQuery).scalar)
                #expect(before.hasPrefix("catalog:"))
                #expect(try await connection.query(SchemaLoader.versionQuery).scalar == before, "stable without DDL")
                try await connection.execute("comment on column todos.title is 'changed'")
                let afterComment = try #require(try await connection.query(SchemaLoader.versionQuery).scalar)
                #expect(afterComment != before)
                try await connection.execute("create function later() returns int language sql as 'select 1'")
                let afterFunction = try #require(try await connection.query(SchemaLoader.versionQuery).scalar)
                #expect(afterFunction != afterComment)
                #expect(try await SchemaLoader.load(connection: connection, schemas: ["public"]).version == afterFunction)

                try await connection.execute("""
                    create schema _branch;
                    create table _branch.schema_version (version bigint not null);
                    insert into _branch.schema_version values (41);
                    create table _branch.hidden (id int primary key);
                    """)
                #expect(try await connection.query(SchemaLoader.versionQuery).scalar == "41")
                let cache = try await SchemaLoader.load(connection: connection, schemas: ["public", "_branch"])
                #expect(cache.version == "41")
                #expect(!cache.relations.keys.contains { $0.schema == "_branch" })

                // A role that may not read _branch falls back to the fingerprint instead of failing,
                // and reads the rest of the catalog all the same.
                try await connection.execute("create role version_reader nologin; revoke all on schema _branch from public; set role version_reader")
                #expect(try await connection.query(SchemaLoader.versionQuery).scalar?.hasPrefix("catalog:") == true)
                let unprivileged = try await SchemaLoader.load(connection: connection, schemas: ["public"])
                #expect(unprivileged.relations.count == cache.relations.count)
                #expect(unprivileged.foreignKeys == cache.foreignKeys)
                try await connection.execute("reset role; grant usage on schema _branch to version_reader; grant select on _branch.schema_version to version_reader; set role version_reader")
                #expect(try await connection.query(SchemaLoader.versionQuery).scalar == "41")
                try await connection.execute("reset role")
            }
        }

        @Test("the document built from a real catalog resolves every reference and lists its tables and columns")
        func documentFromCatalog() async throws {
            try await withFixture("document") { connection in
                let cache = try await SchemaLoader.load(connection: connection, schemas: ["public"])
                let document = try RESTSchemaTests.swagger(cache)
                #expect(RESTSchemaTests.unresolvedReferences(in: document) == [])
                let paths = try #require(document["paths"] as? [String: Any])
                #expect(paths["/todos"] != nil && paths["/spaced%20view"] != nil && paths["/odd%2F%7Bname%7D~1"] != nil && paths["/rpc/add"] != nil)
                let definitions = try #require(document["definitions"] as? [String: [String: Any]])
                let users = try #require(definitions["users"]?["properties"] as? [String: [String: Any]])
                #expect(users["created_at"]?["format"] as? String == "timestamp with time zone")
                #expect(users["mood"]?["enum"] as? [String] == ["sad", "ok", "happy"])
                #expect(users["mood"]?["default"] as? String == "ok")
                #expect(definitions["users"]?["description"] as? String == "People who sign in")
                let todos = try #require(definitions["todos"]?["properties"] as? [String: [String: Any]])
                #expect(todos["rank"]?["type"] as? String == "integer")
                #expect(todos["user_id"]?["description"] as? String == "Note:\nThis is a Foreign Key to `users.id`.<fk table='users' column='id'/>")
                try await RESTSchemaTests.validateWithTool(
                    SwaggerDocument.json(schema: cache, exposedSchema: "public", host: "localhost:8420", basePath: "/rest/v1"))
            }
        }
    }
}
