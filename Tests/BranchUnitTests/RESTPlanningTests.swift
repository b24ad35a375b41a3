import BranchCore
import BranchPostgres
@testable import BranchREST
import Foundation
import Testing

/// A schema cache built by hand: users, teams and their junction users_teams, todos (two keys to
/// users, so `users` alone is ambiguous from todos), comments on todos, profiles one-to-one with
/// users, employees referencing themselves, a view and functions.
enum PlanningFixture {
    static func column(_ name: String, _ type: String, _ udt: String, nullable: Bool = true, default value: String? = nil) -> Column {
        Column(name: name, type: type, udtName: udt, nullable: nullable, defaultExpression: value)
    }

    static func table(_ name: String, _ columns: [Column], primaryKey: [String] = ["id"], kind: Relation.Kind = .table) -> Relation {
        Relation(
            name: QualifiedName("public", name), kind: kind, comment: nil, columns: columns, primaryKey: primaryKey, insertable: true,
            updatable: true, deletable: true)
    }

    static func key(_ name: String, _ table: String, _ columns: [String], _ referenced: String, _ referencedColumns: [String] = ["id"], oneToOne: Bool = false)
        -> ForeignKey
    {
        var key = ForeignKey(
            constraintName: name, table: QualifiedName("public", table), columns: columns, referencedTable: QualifiedName("public", referenced),
            referencedColumns: referencedColumns)
        key.isOneToOne = oneToOne
        return key
    }

    static let id = column("id", "integer", "int4", nullable: false, default: "nextval('seq'::regclass)")

    static let relations: [Relation] = [
        table("users", [id, column("name", "text", "text"), column("email", "text", "text"), column("data", "jsonb", "jsonb")]),
        table("teams", [id, column("name", "text", "text")]),
        table("users_teams", [column("user_id", "integer", "int4", nullable: false), column("team_id", "integer", "int4", nullable: false)], primaryKey: ["user_id", "team_id"]),
        table("todos", [
            id, column("title", "character varying(20)", "varchar"), column("done", "boolean", "bool", default: "false"),
            column("user_id", "integer", "int4"), column("assignee_id", "integer", "int4"), column("tags", "text[]", "_text"),
            column("during", "tstzrange", "tstzrange"), column("created_at", "timestamp with time zone", "timestamptz", default: "now()"),
            column("body", "tsvector", "tsvector"),
        ]),
        table("comments", [id, column("todo_id", "integer", "int4"), column("text", "text", "text")]),
        table("profiles", [id, column("bio", "text", "text")]),
        table("employees", [id, column("name", "text", "text"), column("manager_id", "integer", "int4")]),
        table("open_todos", [column("id", "integer", "int4"), column("title", "text", "text")], primaryKey: [], kind: .view),
    ]

    static let keys: [ForeignKey] = [
        key("users_teams_user_id_fkey", "users_teams", ["user_id"], "users"),
        key("users_teams_team_id_fkey", "users_teams", ["team_id"], "teams"),
        key("todos_user_id_fkey", "todos", ["user_id"], "users"),
        key("todos_assignee_id_fkey", "todos", ["assignee_id"], "users"),
        key("comments_todo_id_fkey", "comments", ["todo_id"], "todos"),
        key("profiles_id_fkey", "profiles", ["id"], "users", oneToOne: true),
        key("employees_manager_id_fkey", "employees", ["manager_id"], "employees"),
    ]

    static func function(_ name: String, _ arguments: [Function.Argument], returns: Function.Returns, set: Bool = false, volatility: Function.Volatility = .volatile)
        -> Function
    {
        Function(name: QualifiedName("public", name), arguments: arguments, returns: returns, returnsSet: set, volatility: volatility, comment: nil)
    }

    static let functions: [Function] = [
        function("add", [.init(name: "a", type: "integer", hasDefault: false), .init(name: "b", type: "integer", hasDefault: true)], returns: .scalar(type: "integer"), volatility: .immutable),
        function("search_todos", [.init(name: "q", type: "text", hasDefault: false)], returns: .relation(QualifiedName("public", "todos")), set: true, volatility: .stable),
        function("reset_all", [], returns: .void),
        function("echo", [.init(name: "", type: "jsonb", hasDefault: false)], returns: .scalar(type: "jsonb")),
        function("sum_all", [.init(name: "ids", type: "integer[]", hasDefault: false)], returns: .scalar(type: "bigint"), volatility: .stable),
    ]

    static let cache = SchemaCache(
        version: "1", relations: Dictionary(uniqueKeysWithValues: relations.map { ($0.name, $0) }), foreignKeys: keys,
        functions: Dictionary(grouping: functions, by: \.name))

    static let settings = RESTSettings(exposedSchemas: ["public", "api"], maxRows: 1000)

    /// The plan of a request, or the error that answers it.
    static func plan(
        _ method: String, _ path: String, _ query: String = "", headers: [(String, String)] = [], body: String = "", cache: SchemaCache = cache
    ) throws(RESTError) -> Plan {
        let request = DataRequest(method: method, path: path, rawQuery: query, headers: headers.map { (name: $0.0, value: $0.1) }, body: Array(body.utf8))
        guard case .statement(let plan) = try RequestPlanner.plan(request, schema: cache, settings: settings) else {
            throw RESTError(status: 0, code: "not a statement", message: "")
        }
        return plan
    }

    /// The error a request is refused with, nil when it plans.
    static func error(_ method: String, _ path: String, _ query: String = "", headers: [(String, String)] = [], body: String = "") -> RESTError? {
        do {
            _ = try plan(method, path, query, headers: headers, body: body)
            return nil
        } catch {
            return error
        }
    }

    /// The statement of a request's plan (a failing expectation when it does not plan).
    static func sql(_ method: String, _ path: String, _ query: String = "", headers: [(String, String)] = [], body: String = "") -> PlannedStatement {
        do {
            guard let statement = try plan(method, path, query, headers: headers, body: body).statement else {
                Issue.record("no statement")
                return PlannedStatement(sql: "", parameters: [])
            }
            return statement
        } catch {
            Issue.record("\(error)")
            return PlannedStatement(sql: "", parameters: [])
        }
    }
}

@Suite("REST planning: requests to SQL")
struct RESTPlanningTests {
    typealias F = PlanningFixture

    // MARK: Values stay parameters

    @Test("a hostile filter value ends up in the parameters, never in the SQL text")
    func hostileValue() {
        let hostile = "'); drop table x; --"
        let statement = F.sql("GET", "/todos", "title=eq." + hostile.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
        #expect(!statement.sql.contains("drop table"))
        #expect(statement.parameters == [hostile])
        #expect(statement.sql.contains(#""todos"."title" = $1"#))
    }

    @Test("hostile values in lists, JSON keys, logic trees, order and RPC arguments stay parameters")
    func hostileEverywhere() {
        let statements = [
            F.sql("GET", "/todos", "id=in.(1,%22x%27)%20or%201=1--%22)"),
            F.sql("GET", "/users", "select=data->>%22x%27y%22&data->>%22a%27b%22=eq.c%27d"),
            F.sql("GET", "/todos", "or=(title.eq.a%27b,title.like.*%27*)"),
            F.sql("GET", "/rpc/add", "a=1%27;drop"),
            F.sql("POST", "/rpc/add", body: #"{"a":"1'; drop table t"}"#),
            F.sql("POST", "/todos", body: #"{"title":"'); drop table x; --"}"#),
        ]
        for statement in statements {
            // Identifiers may hold anything (quoted); values never appear.
            #expect(!statement.sql.contains("c'd") && !statement.sql.contains("'a'b"), "\(statement.sql)")
            #expect(!statement.sql.contains("drop"), "\(statement.sql)")
            #expect(!statement.sql.contains("or 1=1"), "\(statement.sql)")
            #expect(!statement.parameters.isEmpty)
        }
    }

    @Test("identifiers are quoted, with embedded quotes doubled")
    func quotedIdentifiers() {
        var cache = F.cache
        let odd = F.table("we\"ird", [F.column("co\"l", "text", "text")], primaryKey: [])
        cache.relations[odd.name] = odd
        let request = DataRequest(method: "GET", path: "/we%22ird", rawQuery: "select=%22co%5C%22l%22&%22co%5C%22l%22=eq.1")
        guard case .statement(let plan) = try? RequestPlanner.plan(request, schema: cache, settings: F.settings), let sql = plan.statement?.sql else {
            Issue.record("no plan")
            return
        }
        #expect(sql.contains(#"FROM "public"."we""ird""#))
        #expect(sql.contains(#""we""ird"."co""l" = $1"#))
    }

    // MARK: Filters

    /// (query, expected SQL fragment).
    static let operators: [(String, String)] = [
        ("id=eq.1", #""todos"."id" = $1"#),
        ("id=neq.1", #""todos"."id" <> $1"#),
        ("id=gt.1", #""todos"."id" > $1"#),
        ("id=gte.1", #""todos"."id" >= $1"#),
        ("id=lt.1", #""todos"."id" < $1"#),
        ("id=lte.1", #""todos"."id" <= $1"#),
        ("title=like.*a*", #""todos"."title" LIKE $1"#),
        ("title=ilike.*a*", #""todos"."title" ILIKE $1"#),
        ("title=match.^a", #""todos"."title" ~ $1"#),
        ("title=imatch.^a", #""todos"."title" ~* $1"#),
        ("id=in.(1,2,3)", #""todos"."id" IN ($1, $2, $3)"#),
        ("id=in.()", "FALSE"),
        ("done=is.null", #""todos"."done" IS NULL"#),
        ("done=is.not_null", #""todos"."done" IS NOT NULL"#),
        ("done=is.true", #""todos"."done" IS TRUE"#),
        ("done=is.false", #""todos"."done" IS FALSE"#),
        ("done=is.unknown", #""todos"."done" IS UNKNOWN"#),
        ("done=not.is.null", #"NOT ("todos"."done" IS NULL)"#),
        ("id=isdistinct.1", #""todos"."id" IS DISTINCT FROM $1"#),
        ("body=fts.cat", #""todos"."body" @@ to_tsquery($1::text)"#),
        ("body=plfts.fat%20cat", #""todos"."body" @@ plainto_tsquery($1::text)"#),
        ("body=phfts(english).fat%20cat", #""todos"."body" @@ phraseto_tsquery($1::regconfig, $2::text)"#),
        ("body=wfts(english).fat%20cat", #""todos"."body" @@ websearch_to_tsquery($1::regconfig, $2::text)"#),
        ("title=fts(english).cat", #"to_tsvector($1::regconfig, "todos"."title") @@ to_tsquery($1::regconfig, $2::text)"#),
        ("tags=cs.{a,b}", #""todos"."tags" @> $1::text[]"#),
        ("tags=cd.{a,b}", #""todos"."tags" <@ $1::text[]"#),
        ("tags=ov.{a,b}", #""todos"."tags" && $1::text[]"#),
        ("during=sl.[1,2)", #""todos"."during" << $1::tstzrange"#),
        ("during=sr.[1,2)", #""todos"."during" >> $1::tstzrange"#),
        ("during=nxl.[1,2)", #""todos"."during" &> $1::tstzrange"#),
        ("during=nxr.[1,2)", #""todos"."during" &< $1::tstzrange"#),
        ("during=adj.[1,2)", #""todos"."during" -|- $1::tstzrange"#),
        ("title=like(any).{a*,b*}", #"("todos"."title" LIKE $1 OR "todos"."title" LIKE $2)"#),
        ("title=like(all).{a*,b*}", #"("todos"."title" LIKE $1 AND "todos"."title" LIKE $2)"#),
        ("id=not.eq.1", #"NOT ("todos"."id" = $1)"#),
        ("or=(id.eq.1,and(title.eq.b,done.not.is.true))", #"("todos"."id" = $1) OR (("todos"."title" = $2) AND (NOT ("todos"."done" IS TRUE)))"#),
        ("not.or=(id.eq.1,id.eq.2)", #"NOT (("todos"."id" = $1) OR ("todos"."id" = $2))"#),
    ]

    @Test("each operator becomes its SQL, with the value as a parameter", arguments: operators)
    func operatorSQL(row: (String, String)) {
        let statement = F.sql("GET", "/todos", row.0)
        #expect(statement.sql.contains(row.1), "\(statement.sql)")
    }

    @Test("the title column of type varchar(20) is compared untyped, never cast to varchar(20), which would truncate")
    func noTruncatingCast() {
        let statement = F.sql("GET", "/todos", "title=in.(a,b)")
        #expect(!statement.sql.contains("varying(20)"))
        #expect(statement.parameters == ["a", "b"])
    }

    @Test("types lose their modifiers without changing meaning")
    func typesWithoutModifiers() {
        let types = [
            ("character varying(20)", "character varying"), ("numeric(10,2)", "numeric"), ("timestamp(3) with time zone", "timestamp with time zone"),
            ("character(2)", "bpchar"), ("character(2)[]", "bpchar[]"), ("bit(3)", "varbit"), ("text[]", "text"+"[]"), ("\"My(1)\"", "\"My(1)\""),
            ("character", "character"),
        ]
        for (type, expected) in types {
            #expect(F.column("c", type, "x").typeWithoutModifiers == expected, "\(type)")
        }
    }

    @Test("like patterns get % for *, list items keep their quotes' content")
    func operandValues() {
        #expect(F.sql("GET", "/todos", "title=like.*a*").parameters == ["%a%"])
        #expect(F.sql("GET", "/todos", "title=in.(%22a,b%22,c)").parameters == ["a,b", "c"])
    }

    @Test("a filter on a JSON path compares the ->> text, or the -> value as jsonb; keys are parameters")
    func jsonPathFilter() {
        let text = F.sql("GET", "/users", "data->a->>b=eq.x")
        #expect(text.sql.contains(#""users"."data"->$1::text->>$2::text = $3"#), "\(text.sql)")
        #expect(text.parameters == ["a", "b", "x"])
        let value = F.sql("GET", "/users", "data->0->n=gt.3")
        #expect(value.sql.contains(#""users"."data"->$1::integer->$2::text > $3::jsonb"#), "\(value.sql)")
    }

    @Test("an unknown column is 400 42703, an unknown table 404 PGRST205")
    func unknownNames() {
        let column = F.error("GET", "/todos", "nope=eq.1")
        #expect(column?.status == 400)
        #expect(column?.code == "42703")
        #expect(column?.message == "column todos.nope does not exist")
        #expect(F.error("GET", "/todos", "select=id,nope")?.code == "42703")
        #expect(F.error("GET", "/todos", "order=nope.desc")?.code == "42703")
        let table = F.error("GET", "/nope")
        #expect(table?.status == 404)
        #expect(table?.code == "PGRST205")
        #expect(table?.message == "Could not find the table 'public.nope' in the schema cache")
    }

    // MARK: Select, order, paging

    @Test("select with aliases, casts and JSON paths")
    func selectItems() {
        let statement = F.sql("GET", "/users", "select=id,label:name,id::text,data->a->>b,key:data->c")
        #expect(statement.sql.contains(#""users"."id" AS "id""#))
        #expect(statement.sql.contains(#""users"."name" AS "label""#))
        #expect(statement.sql.contains(#"("users"."id")::text AS "id""#))
        #expect(statement.sql.contains(#""users"."data"->$1::text->>$2::text AS "b""#))
        #expect(statement.sql.contains(#""users"."data"->$3::text AS "key""#))
        #expect(statement.parameters == ["a", "b", "c"])
    }

    @Test("a cast that is not a type name is refused")
    func hostileCast() throws {
        #expect(try CastType.checked("text") == "text")
        #expect(try CastType.checked("double precision") == "double precision")
        #expect(try CastType.checked("int4[]") == "int4[]")
        #expect(throws: RESTError.self) { try CastType.checked("text union select 1") }
        #expect(throws: RESTError.self) { try CastType.checked("text);drop") }
    }

    @Test("order with directions and nulls; limit and offset; the 1000-row cap")
    func orderAndPaging() {
        let statement = F.sql("GET", "/todos", "order=id.desc.nullsfirst,title.asc.nullslast,done&limit=5&offset=10")
        #expect(statement.sql.contains(#"ORDER BY "todos"."id" DESC NULLS FIRST, "todos"."title" ASC NULLS LAST, "todos"."done" ASC LIMIT 5 OFFSET 10"#))
        #expect(F.sql("GET", "/todos").sql.contains("LIMIT 1000"))
        #expect(F.sql("GET", "/todos", "limit=5000").sql.contains("LIMIT 1000"))
        #expect(F.sql("GET", "/todos", headers: [("Range", "0-9")]).sql.contains("LIMIT 10"))
        #expect(F.sql("GET", "/todos", headers: [("Range", "10-")]).sql.contains("LIMIT 1000 OFFSET 10"))
        #expect(F.sql("GET", "/todos", "limit=5", headers: [("Range", "2-9")]).sql.contains("LIMIT 3 OFFSET 2"))
    }

    // Found by `make fuzz` (`Range: 9223320368580709-9223372036854775807`, Tests/Fuzz/Corpus/Headers):
    // `offset + limit - 1` overflowed, a trap that stopped the server; `offset=` did the same.
    @Test("offsets, limits and ranges up to Int.max page without overflow")
    func hugePages() {
        let max = Int.max
        #expect(PageRange(limit: 1, offset: max, header: nil, maxRows: nil) == PageRange(offset: max, limit: 1))
        #expect(PageRange(limit: max, offset: max, header: nil, maxRows: 1000) == PageRange(offset: max, limit: 1))
        #expect(PageRange(limit: max, offset: 0, header: nil, maxRows: nil) == PageRange(offset: 0, limit: max))
        #expect(PageRange(limit: 0, offset: 5, header: nil, maxRows: nil) == PageRange(offset: 5, limit: 0))
        let range = RowRange(offset: 9_223_320_368_580_709, limit: 9_214_148_716_486_195_099)
        #expect(PageRange(limit: nil, offset: nil, header: range, maxRows: 1000) == PageRange(offset: range.offset, limit: 1000))
        #expect(PageRange(limit: 2, offset: max - 1, header: RowRange(offset: 0, limit: max), maxRows: nil) == PageRange(offset: max - 1, limit: 1))
        #expect(F.sql("GET", "/todos", "offset=9223372036854775807&limit=1").sql.contains("LIMIT 1 OFFSET 9223372036854775807"))
    }

    @Test("count=exact counts the filtered rows in the same statement; planned and estimated also EXPLAIN")
    func counts() throws {
        let exact = F.sql("GET", "/todos", "id=gt.1", headers: [("Prefer", "count=exact")])
        #expect(exact.sql.contains(#"(SELECT count(*) FROM (SELECT 1 FROM "public"."todos" WHERE "todos"."id" > $1) AS "pgrst_count")"#), "\(exact.sql)")
        let planned = try F.plan("GET", "/todos", "id=gt.1", headers: [("Prefer", "count=planned")])
        #expect(planned.estimate?.sql.hasPrefix("EXPLAIN (FORMAT JSON) SELECT") == true)
        #expect(planned.estimate?.parameters == ["1"])
        #expect(try F.plan("GET", "/todos").estimate == nil)
    }

    @Test("Accept chooses an array, a single object or CSV; HEAD builds no body")
    func formats() throws {
        #expect(F.sql("GET", "/todos").sql.contains("coalesce(json_agg(\"pgrst_r\".*), '[]')::text AS body"))
        #expect(F.sql("GET", "/todos", headers: [("Accept", "application/vnd.pgrst.object+json")]).sql.contains("-> 0)::text AS body"))
        #expect(F.sql("GET", "/todos", headers: [("Accept", "text/csv")]).sql.contains("string_agg"))
        #expect(F.sql("HEAD", "/todos").sql.contains("NULL::text AS body"))
        #expect(try F.plan("GET", "/todos").readOnly)
    }

    @Test("an unexposed schema is 406 PGRST106; Accept-Profile picks an exposed one")
    func profiles() {
        let error = F.error("GET", "/todos", headers: [("Accept-Profile", "private")])
        #expect(error?.status == 406)
        #expect(error?.code == "PGRST106")
        #expect(error?.message == "The schema must be one of the following: public, api")
        #expect(F.error("POST", "/todos", headers: [("Content-Profile", "private")], body: "{}")?.code == "PGRST106")
        #expect(F.error("GET", "/todos", headers: [("Accept-Profile", "api")])?.code == "PGRST205")
    }

    // MARK: Embedding

    @Test("many-to-one is an object, one-to-many an array ([] when empty), one-to-one an object")
    func embedCardinalities() {
        let manyToOne = F.sql("GET", "/comments", "select=id,todos(title)")
        #expect(manyToOne.sql.contains(#"row_to_json("pgrst_row".*) AS "agg""#), "\(manyToOne.sql)")
        #expect(manyToOne.sql.contains(#""todos_1"."id" = "comments"."todo_id""#), "\(manyToOne.sql)")
        let oneToMany = F.sql("GET", "/todos", "select=id,comments(text)")
        #expect(oneToMany.sql.contains(#"json_agg("pgrst_row".*) AS "agg""#))
        #expect(oneToMany.sql.contains(#"coalesce("pgrst_2"."agg", '[]') AS "comments""#), "\(oneToMany.sql)")
        #expect(oneToMany.sql.contains(#""comments_1"."todo_id" = "todos"."id""#))
        let oneToOne = F.sql("GET", "/users", "select=id,profiles(bio)")
        #expect(oneToOne.sql.contains(#"row_to_json("pgrst_row".*)"#))
        #expect(!oneToOne.sql.contains("json_agg(\"pgrst_row\""))
    }

    @Test("many-to-many goes through the junction table")
    func manyToMany() {
        let statement = F.sql("GET", "/users", "select=name,teams(name)")
        #expect(statement.sql.contains(#"EXISTS (SELECT 1 FROM "public"."users_teams" AS "users_teams_"#), "\(statement.sql)")
        #expect(statement.sql.contains("json_agg"))
        #expect(F.error("GET", "/users", "select=teams!users_teams(name)") == nil)
    }

    @Test("two keys to the same table are ambiguous (300 PGRST201) until a hint or the column names one")
    func ambiguity() {
        let error = F.error("GET", "/todos", "select=*,users(*)")
        #expect(error?.status == 300)
        #expect(error?.code == "PGRST201")
        #expect(error?.message == "Could not embed because more than one relationship was found for 'todos' and 'users'")
        #expect(error?.details?.contains("todos_user_id_fkey") == true)
        #expect(error?.details?.contains("todos_assignee_id_fkey") == true)
        #expect(error?.hint?.contains("'users!todos_user_id_fkey'") == true)
        #expect(F.error("GET", "/todos", "select=*,users!todos_user_id_fkey(*)") == nil)
        #expect(F.error("GET", "/todos", "select=*,owner:users!user_id(*)") == nil)
        #expect(F.error("GET", "/todos", "select=*,assignee_id(*)") == nil)
        #expect(F.error("GET", "/todos", "select=*,todos_assignee_id_fkey(name)") == nil)
    }

    @Test("no relationship is 400 PGRST200")
    func noRelationship() {
        let error = F.error("GET", "/teams", "select=*,comments(*)")
        #expect(error?.status == 400)
        #expect(error?.code == "PGRST200")
        #expect(error?.message == "Could not find a relationship between 'teams' and 'comments' in the schema cache")
    }

    @Test("a self-reference: the table name gives the children, the column the parent")
    func selfReference() {
        let children = F.sql("GET", "/employees", "select=name,reports:employees(name)")
        #expect(children.sql.contains(#""employees_1"."manager_id" = "employees"."id""#), "\(children.sql)")
        let parent = F.sql("GET", "/employees", "select=name,manager:manager_id(name)")
        #expect(parent.sql.contains(#""employees_1"."id" = "employees"."manager_id""#), "\(parent.sql)")
    }

    @Test("!inner and embed=not.is.null filter the parents; embed-scoped filters, order and limit shape the child")
    func embedFiltering() {
        let inner = F.sql("GET", "/todos", "select=id,comments!inner(text)&comments.text=eq.x&comments.order=id.desc&comments.limit=2")
        #expect(inner.sql.contains(#""pgrst_2"."agg" IS NOT NULL"#), "\(inner.sql)")
        #expect(inner.sql.contains(#"WHERE ("comments_1"."todo_id" = "todos"."id") AND ("comments_1"."text" = $1) ORDER BY "comments_1"."id" DESC LIMIT 2"#), "\(inner.sql)")
        let notNull = F.sql("GET", "/todos", "select=id,comments(text)&comments=not.is.null", headers: [("Prefer", "count=exact")])
        #expect(notNull.sql.contains(#""pgrst_2"."agg" IS NOT NULL"#), "\(notNull.sql)")
        // The count keeps the join its filter needs.
        #expect(notNull.sql.contains(#"(SELECT count(*) FROM (SELECT 1 FROM "public"."todos" LEFT JOIN LATERAL"#), "\(notNull.sql)")
        let isNull = F.sql("GET", "/todos", "select=id,comments(text)&comments=is.null")
        #expect(isNull.sql.contains(#""pgrst_2"."agg" IS NULL"#))
        let notEmbedded = F.error("GET", "/todos", "select=id&comments.text=eq.x")
        #expect(notEmbedded?.code == "PGRST108")
    }

    @Test("an aliased embed's scoped keys may use the alias or the relation name")
    func aliasedEmbedKeys() {
        let statement = F.sql("GET", "/todos", "select=id,notes:comments(text)&notes.text=eq.a&comments.id=gt.1&notes.limit=1")
        #expect(statement.sql.contains(#"("comments_1"."text" = $1) AND ("comments_1"."id" > $2)"#), "\(statement.sql)")
        #expect(statement.sql.contains("LIMIT 1)"))
    }

    @Test("embeds nest")
    func nestedEmbeds() {
        let statement = F.sql("GET", "/users", "select=name,todos!user_id(title,comments(text))&todos.comments.text=eq.a")
        #expect(statement.sql.contains(#""comments_2"."todo_id" = "todos_1"."id""#), "\(statement.sql)")
        #expect(statement.sql.contains(#""comments_2"."text" = $1"#))
    }

    // MARK: Writes

    @Test("insert one object: its keys only, from json_to_recordset, RETURNING 1 unless a representation is asked")
    func insertOne() throws {
        let minimal = F.sql("POST", "/todos", body: #"{"title":"a","done":true}"#)
        #expect(minimal.sql.contains(#"INSERT INTO "public"."todos" ("title", "done") SELECT "pgrst_body"."title", "pgrst_body"."done" FROM json_to_recordset($1::json) AS "pgrst_body"("title" character varying(20), "done" boolean)"#), "\(minimal.sql)")
        #expect(minimal.sql.contains("RETURNING 1"))
        #expect(!minimal.sql.contains(#""todos".*"#))
        #expect(minimal.parameters == [#"[{"title":"a","done":true}]"#])
        let representation = F.sql("POST", "/todos", "select=id,comments(text)", headers: [("Prefer", "return=representation")], body: #"{"title":"a"}"#)
        #expect(representation.sql.contains(#"RETURNING "todos".*"#))
        #expect(representation.sql.contains(#"FROM "pgrst_source" AS "todos" LEFT JOIN LATERAL"#), "\(representation.sql)")
        let plan = try F.plan("POST", "/todos", body: "{}")
        #expect(plan.response.action == .create)
        #expect(plan.readOnly == false)
    }

    @Test("bulk insert: keys must match unless columns= is given; missing=default fills DEFAULTs per row")
    func bulkInsert() {
        let mismatch = F.error("POST", "/todos", body: #"[{"title":"a"},{"done":true}]"#)
        #expect(mismatch?.status == 400)
        #expect(mismatch?.code == "PGRST102")
        #expect(mismatch?.message == "All object keys must match")
        let columns = F.sql("POST", "/todos", "columns=%22title%22,%22done%22", body: #"[{"title":"a"},{"done":true}]"#)
        #expect(columns.sql.contains(#"("title", "done")"#))
        let defaults = F.sql("POST", "/todos", "columns=title,done", headers: [("Prefer", "missing=default")], body: #"[{"title":"a"},{"done":true}]"#)
        #expect(defaults.sql.contains("jsonb_build_object($1::text, false)"), "\(defaults.sql)")
        #expect(defaults.parameters.first == "done")
        #expect(F.error("POST", "/todos", body: "not json")?.message == "Empty or invalid json")
        #expect(F.error("POST", "/todos", body: "")?.code == "PGRST102")
        let unknown = F.error("POST", "/todos", body: #"{"nope":1}"#)
        #expect(unknown?.code == "PGRST204")
        #expect(unknown?.message == "Could not find the 'nope' column of 'todos' in the schema cache")
    }

    @Test("an empty array inserts nothing and runs no statement")
    func emptyInsert() throws {
        #expect(try F.plan("POST", "/todos", body: "[]").statement == nil)
    }

    @Test("upsert: merge-duplicates updates the payload's columns on the key; ignore-duplicates does nothing")
    func upsert() {
        let merge = F.sql("POST", "/todos", headers: [("Prefer", "resolution=merge-duplicates")], body: #"{"id":1,"title":"a"}"#)
        #expect(merge.sql.contains(#"ON CONFLICT ("id") DO UPDATE SET "id" = EXCLUDED."id", "title" = EXCLUDED."title""#), "\(merge.sql)")
        let onConflict = F.sql("POST", "/users_teams", "on_conflict=user_id,team_id", headers: [("Prefer", "resolution=ignore-duplicates")], body: #"{"user_id":1,"team_id":2}"#)
        #expect(onConflict.sql.contains(#"ON CONFLICT ("user_id", "team_id") DO NOTHING"#))
    }

    @Test("unfiltered PATCH and DELETE are refused with 21000 before anything runs")
    func unfilteredWrites() {
        let delete = F.error("DELETE", "/todos", body: "{}")
        #expect(delete?.status == 400)
        #expect(delete?.code == "21000")
        #expect(delete?.message == "DELETE requires a WHERE clause")
        #expect(F.error("PATCH", "/todos", body: #"{"done":true}"#)?.message == "UPDATE requires a WHERE clause")
    }

    @Test("PATCH sets the body's keys on the filtered rows; DELETE deletes them")
    func updateAndDelete() {
        let update = F.sql("PATCH", "/todos", "id=eq.1", body: #"{"done":true}"#)
        #expect(update.sql.contains(#"UPDATE "public"."todos" SET "done" = "pgrst_body"."done" FROM (SELECT * FROM json_to_recordset($2::json)"#), "\(update.sql)")
        #expect(update.sql.contains(#"WHERE "todos"."id" = $1 RETURNING 1"#), "\(update.sql)")
        let delete = F.sql("DELETE", "/todos", "id=eq.1", headers: [("Prefer", "return=representation")])
        #expect(delete.sql.contains(#"DELETE FROM "public"."todos" WHERE "todos"."id" = $1 RETURNING "todos".*"#))
    }

    @Test("PUT upserts the row its primary key filter names, and needs exactly that filter")
    func put() {
        let statement = F.sql("PUT", "/todos", "id=eq.1", body: #"{"id":1,"title":"a"}"#)
        #expect(statement.sql.contains(#"WHERE "pgrst_body"."id" = $1 ON CONFLICT ("id") DO UPDATE SET"#), "\(statement.sql)")
        #expect(F.error("PUT", "/todos", "title=eq.a", body: #"{"id":1}"#)?.code == "PGRST105")
        #expect(F.error("PUT", "/todos", "id=eq.1", body: #"{"title":"a"}"#)?.code == "PGRST115")
    }

    // MARK: Functions

    @Test("POST /rpc casts the JSON arguments with json_to_record; GET casts query values; unknown functions are 404 PGRST202")
    func calls() throws {
        let post = F.sql("POST", "/rpc/add", body: #"{"a":1,"b":2}"#)
        #expect(post.sql.contains(#""public"."add"("a" := "pgrst_args"."a", "b" := "pgrst_args"."b") AS "pgrst_scalar" FROM json_to_record($1::json) AS "pgrst_args"("a" integer, "b" integer)"#), "\(post.sql)")
        let get = F.sql("GET", "/rpc/add", "a=1")
        #expect(get.sql.contains(#""public"."add"("a" := $1::integer)"#), "\(get.sql)")
        #expect(get.parameters == ["1"])
        let unknown = F.error("POST", "/rpc/add", body: #"{"x":1}"#)
        #expect(unknown?.status == 404)
        #expect(unknown?.code == "PGRST202")
        #expect(unknown?.message == "Could not find the function public.add(x) in the schema cache")
        #expect(F.error("POST", "/rpc/nope", body: "{}")?.message == "Could not find the function public.nope without parameters in the schema cache")
        #expect(try F.plan("GET", "/rpc/add", "a=1").readOnly)
        #expect(try F.plan("POST", "/rpc/reset_all").readOnly == false)
        #expect(try F.plan("POST", "/rpc/reset_all").response.action == .callVoid)
    }

    @Test("a set-returning function reads like its relation: filters, order, limit, select and embeds")
    func setReturningFunction() {
        let statement = F.sql("GET", "/rpc/search_todos", "q=x&select=id,comments(text)&done=is.true&order=id&limit=3")
        #expect(statement.sql.contains(#"FROM "public"."search_todos"("q" := $1::text) AS "pgrst_call""#), "\(statement.sql)")
        #expect(statement.sql.contains(#"FROM "pgrst_source" AS "todos" LEFT JOIN LATERAL"#), "\(statement.sql)")
        #expect(statement.sql.contains(#""todos"."done" IS TRUE"#))
        #expect(statement.sql.contains("LIMIT 3"))
    }

    @Test("a single unnamed jsonb parameter takes the whole body; repeated GET values make an array")
    func wholeBodyAndArrays() {
        let echo = F.sql("POST", "/rpc/echo", body: #"[1,2]"#)
        #expect(echo.sql.contains(#""public"."echo"($1::jsonb)"#))
        #expect(echo.parameters == ["[1,2]"])
        let sum = F.sql("GET", "/rpc/sum_all", "ids=1&ids=2")
        #expect(sum.parameters == [#"{"1","2"}"#])
        #expect(CallPlanner.arrayLiteral([#"a"b"#, #"c\d"#]) == #"{"a\"b","c\\d"}"#)
    }

    // MARK: Responses

    @Test("Content-Range, 206 and 416 follow PostgREST's rules")
    func ranges() throws {
        var plan = ResponsePlan(action: .read, format: .jsonArray, returnsBody: true, count: .exact, offset: 0)
        var response = try ResponseBuilder.response(plan, result: StatementResult(pageTotal: 10, total: 57, body: "[]", location: nil))
        #expect(response.status == 206)
        #expect(response.headers.first { $0.name == "Content-Range" }?.value == "0-9/57")
        response = try ResponseBuilder.response(plan, result: StatementResult(pageTotal: 0, total: 0, body: "[]", location: nil))
        #expect(response.status == 200)
        #expect(response.headers.first { $0.name == "Content-Range" }?.value == "*/0")
        plan.count = nil
        response = try ResponseBuilder.response(plan, result: StatementResult(pageTotal: 10, total: nil, body: "[]", location: nil))
        #expect(response.headers.first { $0.name == "Content-Range" }?.value == "0-9/*")
        plan.count = .exact
        plan.offset = 20
        #expect(throws: RESTError.self) { try ResponseBuilder.response(plan, result: StatementResult(pageTotal: 0, total: 5, body: "[]", location: nil)) }
        do {
            _ = try ResponseBuilder.response(plan, result: StatementResult(pageTotal: 0, total: 5, body: "[]", location: nil))
        } catch {
            #expect(error.status == 416)
            #expect(String(decoding: error.jsonBody, as: UTF8.self)
                == #"{"code":"PGRST103","details":"An offset of 20 was requested, but there are only 5 rows.","hint":null,"message":"Requested range not satisfiable"}"#)
        }
    }

    @Test("a single object needs exactly one row: 406 PGRST116 otherwise")
    func singleObject() {
        let plan = ResponsePlan(action: .read, format: .singleObject, returnsBody: true)
        do {
            _ = try ResponseBuilder.response(plan, result: StatementResult(pageTotal: 0, total: nil, body: nil, location: nil))
            Issue.record("no error")
        } catch {
            #expect(error.status == 406)
            #expect(String(decoding: error.jsonBody, as: UTF8.self)
                == #"{"code":"PGRST116","details":"The result contains 0 rows","hint":null,"message":"Cannot coerce the result to a single JSON object"}"#)
        }
    }

    @Test("writes: 201 for POST, 204 without a representation, */N with a count")
    func writeStatuses() throws {
        let created = try ResponseBuilder.response(
            ResponsePlan(action: .create, format: .jsonArray, returnsBody: false, count: .exact), result: StatementResult(pageTotal: 3, total: 3, body: nil, location: nil))
        #expect(created.status == 201)
        #expect(created.body.isEmpty)
        #expect(created.headers.first { $0.name == "Content-Range" }?.value == "*/3")
        let deleted = try ResponseBuilder.response(
            ResponsePlan(action: .modify, format: .jsonArray, returnsBody: false), result: StatementResult(pageTotal: 3, total: nil, body: nil, location: nil))
        #expect(deleted.status == 204)
        let updated = try ResponseBuilder.response(
            ResponsePlan(action: .modify, format: .jsonArray, returnsBody: true), result: StatementResult(pageTotal: 1, total: nil, body: "[{}]", location: nil))
        #expect(updated.status == 200)
        #expect(updated.body == Array("[{}]".utf8))
    }

    @Test("the EXPLAIN row estimate is the top node's Plan Rows")
    func planRows() {
        #expect(PlanExecutor.planRows(#"[{"Plan": {"Node Type": "Seq Scan", "Startup Cost": 0.00, "Plan Rows": 1270, "Plan Width": 4}}]"#) == 1270)
    }

    @Test("JSON bodies: objects, arrays of objects, keys with escapes; invalid text refused")
    func jsonPayload() throws {
        #expect(try JSONPayload.inspect(Array(#" {"a":1,"b\u0041":[{"x":null}],"a":2} "#.utf8)) == .object(keys: ["a", "bA"]))
        #expect(try JSONPayload.inspect(Array(#"[{"a":1},{"b":"\"}"},3]"#.utf8)) == .array([["a"], ["b"], nil]))
        #expect(try JSONPayload.inspect(Array("-1.5e3".utf8)) == .scalar)
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "\"\u{01}\"", "[1] x", "{\"a\":tru}"] {
            #expect(throws: RESTError.self, "\(bad)") { try JSONPayload.inspect(Array(bad.utf8)) }
        }
        #expect(throws: RESTError.self) { try JSONPayload.inspect(Array(String(repeating: "[", count: 10_000).utf8)) }
    }

    @Test("errors carry all four keys, code a string")
    func errorBody() {
        let body = String(decoding: RESTError(status: 400, code: "21000", message: "DELETE requires a WHERE clause").jsonBody, as: UTF8.self)
        #expect(body == #"{"code":"21000","details":null,"hint":null,"message":"DELETE requires a WHERE clause"}"#)
        #expect(JSONText.string("a\"b\\c\n\u{01}") == #""a\"b\\c\n\u0001""#)
    }

    @Test("request.headers hides credentials and the search path starts with the chosen schema")
    func requestSettings() {
        let request = DataRequest(
            method: "get", path: "/todos", headers: [("Authorization", "Bearer x"), ("apikey", "k"), ("Cookie", "c"), ("X-Trace", "t\"1")])
        let parameters = RequestSettings.parameters(request, identity: RequestIdentity(role: "anon", claimsJSON: "{}"), schema: "api")
        #expect(parameters == [#""api", "public", "extensions""#, "anon", "{}", "GET", "/todos", #"{"x-trace":"t\"1"}"#])
    }
}

/// Planned statements run on a real Postgres, through `RESTHandler` as the engine calls it.
@Suite("REST planning against a throw-away Postgres", .serialized, .enabled(if: ThrowAwayPostgres.canRun), ThrowAwayPostgres.Scope())
struct RESTExecutionTests {
    static let schemaSQL = """
        CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, data jsonb);
        CREATE TABLE teams (id serial PRIMARY KEY, name text NOT NULL);
        CREATE TABLE users_teams (user_id int REFERENCES users, team_id int REFERENCES teams, PRIMARY KEY (user_id, team_id));
        CREATE TABLE todos (
            id serial PRIMARY KEY, title varchar(20) NOT NULL, done boolean NOT NULL DEFAULT false,
            user_id int REFERENCES users, tags text[], created_at timestamptz DEFAULT '2024-01-01 12:00:00.123+00');
        CREATE TABLE comments (id serial PRIMARY KEY, todo_id int REFERENCES todos, text text);
        INSERT INTO users (name, data) VALUES ('ann', '{"a":{"b":"x"}}'), ('bob', null);
        INSERT INTO teams (name) VALUES ('red'), ('blue');
        INSERT INTO users_teams VALUES (1, 1), (1, 2), (2, 2);
        INSERT INTO todos (title, user_id, tags) VALUES ('one', 1, '{a,b}'), ('two', 1, '{c}'), ('three', 2, null);
        INSERT INTO comments (todo_id, text) VALUES (1, 'first'), (1, 'second');
        CREATE FUNCTION add(a int, b int DEFAULT 10) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
        CREATE FUNCTION todos_of(uid int) RETURNS SETOF todos LANGUAGE sql STABLE AS 'SELECT * FROM todos WHERE user_id = uid';
        CREATE FUNCTION sum_all(ids int[]) RETURNS bigint LANGUAGE sql STABLE AS 'SELECT sum(x) FROM unnest(ids) x';
        CREATE FUNCTION touch() RETURNS void LANGUAGE sql AS 'UPDATE todos SET done = done';
        """

    static let identity = RequestIdentity(role: "postgres", claimsJSON: #"{"role":"postgres"}"#)

    var pg: ThrowAwayPostgres { get throws { try #require(ThrowAwayPostgres.current) } }

    /// Sends requests on one connection to a fresh database with the schema above.
    func withAPI(_ body: (_ send: (DataRequest) async -> DataResponse, _ connection: PGConnection) async throws -> Void) async throws {
        let database = "rest_\(Identifiers.shortID(length: 8).lowercased())"
        try await withConnection(try pg.connection()) { admin in
            try await admin.execute("CREATE DATABASE \(database)")
            // Timestamps in the expected JSON are in UTC, whatever this machine's zone.
            try await admin.execute("ALTER DATABASE \(database) SET timezone TO 'UTC'")
        }
        try await withConnection(try pg.connection(database: database)) { connection in
            try await connection.execute(Self.schemaSQL)
            let cache = try await SchemaLoader.load(connection: connection, schemas: ["public"])
            try await body({ request in
                (await RESTHandler.handle(request, identity: Self.identity, schema: cache, settings: RESTSettings(), connection: connection)).response
            }, connection)
        }
    }

    func text(_ response: DataResponse) -> String { String(decoding: response.body, as: UTF8.self) }
    func header(_ response: DataResponse, _ name: String) -> String? { response.headers.first { $0.name == name }?.value }

    @Test("a read with filters, order, many-to-one, one-to-many and many-to-many embeds returns PostgREST's JSON")
    func readWithEmbeds() async throws {
        try await withAPI { send, connection in
            let response = await send(DataRequest(
                method: "GET", path: "/todos",
                rawQuery: "select=id,title,created_at,users(name,teams(name)),comments(text)&comments.order=id.desc&order=id&id=lte.2",
                headers: [("Prefer", "count=exact")]))
            #expect(response.status == 200, "\(text(response))")
            #expect(header(response, "Content-Range") == "0-1/2")
            let expected = #"[{"id":1,"title":"one","created_at":"2024-01-01T12:00:00.123+00:00","users":{"name":"ann","teams":[{"name":"red"}, "#
                + "\n " + #"{"name":"blue"}]},"comments":[{"text":"second"}, "# + "\n " + #"{"text":"first"}]}, "# + "\n "
                + #"{"id":2,"title":"two","created_at":"2024-01-01T12:00:00.123+00:00","users":{"name":"ann","teams":[{"name":"red"}, "#
                + "\n " + #"{"name":"blue"}]},"comments":[]}]"#
            #expect(text(response) == expected)
            let idle = try await connection.query("SELECT 1").scalar
            #expect(idle == "1", "the connection is idle again")
        }
    }

    @Test("inner embeds, JSON paths, casts, single objects, CSV, HEAD and paging")
    func readShapes() async throws {
        try await withAPI { send, _ in
            var response = await send(DataRequest(method: "GET", path: "/todos", rawQuery: "select=id,comments!inner(id)"))
            #expect(text(response) == #"[{"id":1,"comments":[{"id":1}, "# + "\n " + #"{"id":2}]}]"#)
            response = await send(DataRequest(method: "GET", path: "/users", rawQuery: "select=b:data->a->>b,id::text&data->a->>b=eq.x"))
            #expect(text(response) == #"[{"b":"x","id":"1"}]"#)
            response = await send(DataRequest(method: "GET", path: "/todos", rawQuery: "id=eq.3&select=title", headers: [("Accept", "application/vnd.pgrst.object+json")]))
            #expect(text(response) == #"{"title":"three"}"#)
            #expect(header(response, "Content-Type") == "application/vnd.pgrst.object+json; charset=utf-8")
            response = await send(DataRequest(method: "GET", path: "/todos", rawQuery: "id=gt.10", headers: [("Accept", "application/vnd.pgrst.object+json")]))
            #expect(response.status == 406)
            #expect(text(response).contains(#""details":"The result contains 0 rows""#))
            response = await send(DataRequest(method: "GET", path: "/todos", rawQuery: "select=id,title,tags&order=id&limit=2", headers: [("Accept", "text/csv")]))
            #expect(text(response) == "id,title,tags\n1,one,\"{a,b}\"\n2,two,{c}")
            response = await send(DataRequest(method: "HEAD", path: "/todos", headers: [("Prefer", "count=exact"), ("Range", "0-1")]))
            #expect(response.status == 206)
            #expect(response.body.isEmpty)
            #expect(header(response, "Content-Range") == "0-1/3")
            response = await send(DataRequest(method: "GET", path: "/todos", rawQuery: "offset=20", headers: [("Prefer", "count=exact")]))
            #expect(response.status == 416)
            response = await send(DataRequest(method: "GET", path: "/todos", rawQuery: "tags=cs.{a}&title=in.(one,%22x,y%22)&select=id"))
            #expect(text(response) == #"[{"id":1}]"#)
            response = await send(DataRequest(method: "GET", path: "/todos", rawQuery: "select=id", headers: [("Prefer", "count=planned")]))
            #expect(header(response, "Content-Range")?.hasPrefix("0-2/") == true)
        }
    }

    @Test("inserts (single, bulk, upsert, minimal), updates and deletes, with representations shaped by select")
    func writes() async throws {
        try await withAPI { send, connection in
            var response = await send(DataRequest(
                method: "POST", path: "/todos", rawQuery: "select=title,done,users(name)", headers: [("Prefer", "return=representation")],
                body: Array(#"{"title":"new","user_id":2}"#.utf8)))
            #expect(response.status == 201, "\(text(response))")
            #expect(text(response) == #"[{"title":"new","done":false,"users":{"name":"bob"}}]"#)
            response = await send(DataRequest(method: "POST", path: "/todos", headers: [("Prefer", "count=exact")], body: Array(#"[{"title":"b1"},{"title":"b2"}]"#.utf8)))
            #expect(response.status == 201)
            #expect(response.body.isEmpty)
            #expect(header(response, "Content-Range") == "*/2")
            response = await send(DataRequest(
                method: "POST", path: "/todos", rawQuery: "columns=title,done", headers: [("Prefer", "missing=default,return=representation")],
                body: Array(#"[{"title":"m1"},{"title":"m2","done":true}]"#.utf8)))
            #expect(text(response).contains(#""title":"m1","done":false"#), "\(text(response))")
            response = await send(DataRequest(
                method: "POST", path: "/todos", headers: [("Prefer", "resolution=merge-duplicates,return=representation")],
                body: Array(#"{"id":1,"title":"merged"}"#.utf8)))
            #expect(text(response).contains(#""id":1,"title":"merged""#), "\(text(response))")
            response = await send(DataRequest(method: "POST", path: "/todos", body: Array(#"{"id":1,"title":"dup"}"#.utf8)))
            #expect(response.status == 409)
            response = await send(DataRequest(
                method: "PATCH", path: "/todos", rawQuery: "id=eq.2&select=id,done", headers: [("Prefer", "return=representation")],
                body: Array(#"{"done":true}"#.utf8)))
            #expect(text(response) == #"[{"id":2,"done":true}]"#)
            response = await send(DataRequest(method: "DELETE", path: "/todos", body: Array("{}".utf8)))
            #expect(response.status == 400)
            response = await send(DataRequest(method: "DELETE", path: "/comments", rawQuery: "todo_id=eq.1", headers: [("Prefer", "count=exact")]))
            #expect(response.status == 204)
            #expect(header(response, "Content-Range") == "*/2")
            response = await send(DataRequest(method: "POST", path: "/users", body: Array("{}".utf8)))
            #expect(response.status == 400, "not null name: \(text(response))")
            response = await send(DataRequest(method: "PUT", path: "/teams", rawQuery: "id=eq.5", headers: [("Prefer", "return=representation")], body: Array(#"{"id":5,"name":"new"}"#.utf8)))
            #expect(text(response) == #"[{"id":5,"name":"new"}]"#, "\(text(response))")
            response = await send(DataRequest(method: "PUT", path: "/teams", rawQuery: "id=eq.6", body: Array(#"{"id":7,"name":"x"}"#.utf8)))
            #expect(response.status == 400)
            let teams = try await connection.query("SELECT count(*) FROM teams").scalar
            #expect(teams == "3", "the mismatched PUT was rolled back")
            response = await send(DataRequest(method: "POST", path: "/teams", headers: [("Prefer", "return=headers-only")], body: Array(#"{"id":9,"name":"nine"}"#.utf8)))
            #expect(response.status == 201)
            #expect(header(response, "Location") == "/teams?id=eq.9")
            response = await send(DataRequest(
                method: "PATCH", path: "/teams", rawQuery: "id=gt.0", headers: [("Prefer", "handling=strict, max-affected=1")], body: Array(#"{"name":"x"}"#.utf8)))
            #expect(response.status == 400)
            #expect(text(response).contains(#""code":"PGRST124""#))
            let unchanged = try await connection.query("SELECT count(*) FROM teams WHERE name = 'x'").scalar
            #expect(unchanged == "0", "the over-wide PATCH was rolled back")
        }
    }

    @Test("the request runs as the token's role with its claims and headers; minimal inserts pass an insert-only RLS policy")
    func roleClaimsAndRowSecurity() async throws {
        try await withAPI { _, connection in
            try await connection.execute("""
                DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN CREATE ROLE anon NOLOGIN; END IF; END $$;
                CREATE TABLE notes (id serial PRIMARY KEY, body text);
                ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
                CREATE POLICY anyone_inserts ON notes FOR INSERT TO anon WITH CHECK (true);
                GRANT USAGE ON SCHEMA public TO anon;
                GRANT INSERT, SELECT ON notes TO anon;
                GRANT USAGE ON SEQUENCE notes_id_seq TO anon;
                CREATE FUNCTION whoami() RETURNS json LANGUAGE sql STABLE AS $$
                    SELECT json_build_object('role', current_user, 'claims', current_setting('request.jwt.claims', true)::json,
                        'method', current_setting('request.method', true), 'path', current_setting('request.path', true),
                        'headers', current_setting('request.headers', true)::json, 'search_path', current_setting('search_path'))
                $$;
                GRANT EXECUTE ON FUNCTION whoami() TO anon;
                """)
            let cache = try await SchemaLoader.load(connection: connection, schemas: ["public"])
            let anon = RequestIdentity(role: "anon", claimsJSON: #"{"role":"anon","sub":"u1"}"#)
            func send(_ request: DataRequest) async -> DataResponse {
                (await RESTHandler.handle(request, identity: anon, schema: cache, settings: RESTSettings(), connection: connection)).response
            }
            var response = await send(DataRequest(method: "POST", path: "/notes", body: Array(#"{"body":"hi"}"#.utf8)))
            #expect(response.status == 201, "\(text(response))")
            response = await send(DataRequest(method: "POST", path: "/notes", headers: [("Prefer", "return=representation")], body: Array(#"{"body":"hi"}"#.utf8)))
            #expect(response.status == 401, "\(text(response))")
            #expect(text(response).contains(#""code":"42501""#))
            response = await send(DataRequest(
                method: "GET", path: "/rpc/whoami", headers: [("Authorization", "Bearer secret"), ("apikey", "key"), ("X-Client-Info", "supabase-py/2.3")]))
            let expected = #"{"role" : "anon", "claims" : {"role":"anon","sub":"u1"}, "method" : "GET", "path" : "/rpc/whoami", "#
                + #""headers" : {"x-client-info":"supabase-py/2.3"}, "search_path" : "\"public\", \"extensions\""}"#
            #expect(text(response) == expected)
            let role = try await connection.query("SELECT current_user").scalar
            #expect(role == "postgres", "the role was local to the request's transaction")
        }
    }

    @Test("functions returning tables, OUT parameters, composite types, sets of scalars and JSON; estimated counts; empty CSV")
    func resultShapes() async throws {
        try await withAPI { send, connection in
            try await connection.execute("""
                CREATE FUNCTION pairs() RETURNS TABLE(a int, b text) LANGUAGE sql STABLE AS $$ SELECT 1, 'x' UNION ALL SELECT 2, 'y' $$;
                CREATE FUNCTION one_pair(OUT a int, OUT b text) LANGUAGE sql STABLE AS $$ SELECT 1, 'x' $$;
                CREATE TYPE pt AS (x int, y int);
                CREATE FUNCTION point_of(x int) RETURNS pt LANGUAGE sql IMMUTABLE AS 'SELECT ROW(x, x)::pt';
                CREATE FUNCTION ids() RETURNS SETOF int LANGUAGE sql STABLE AS 'SELECT generate_series(1, 3)';
                CREATE FUNCTION echo(data jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS 'SELECT data';
                CREATE FUNCTION whole(jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS 'SELECT $1';
                """)
            let cache = try await SchemaLoader.load(connection: connection, schemas: ["public"])
            func call(_ method: String, _ path: String, _ query: String = "", _ headers: [(String, String)] = [], body: String = "") async -> DataResponse {
                let request = DataRequest(method: method, path: path, rawQuery: query, headers: headers.map { (name: $0.0, value: $0.1) }, body: Array(body.utf8))
                return (await RESTHandler.handle(request, identity: Self.identity, schema: cache, settings: RESTSettings(maxRows: 2), connection: connection)).response
            }
            func json(_ response: DataResponse) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(response.body)) }
            var response = await call("GET", "/rpc/pairs", "b=eq.y")
            #expect(json(response) == [["a": 2, "b": "y"]], "\(text(response))")
            response = await call("GET", "/rpc/pairs", "select=a&order=a.desc&limit=1", [("Prefer", "count=exact")])
            #expect(json(response) == [["a": 2]])
            #expect(header(response, "Content-Range") == "0-0/2")
            response = await call("GET", "/rpc/one_pair")
            #expect(json(response) == ["a": 1, "b": "x"], "\(text(response))")
            response = await call("GET", "/rpc/point_of", "x=3")
            #expect(json(response) == ["x": 3, "y": 3], "\(text(response))")
            response = await call("GET", "/rpc/ids")
            #expect(json(response) == [1, 2], "the maximum rows apply: \(text(response))")
            response = await call("POST", "/rpc/echo", body: #"{"data":{"k":[1,"a"]}}"#)
            #expect(json(response) == ["k": [1, "a"]], "\(text(response))")
            response = await call("POST", "/rpc/whole", body: #"[1,{"a":null}]"#)
            #expect(json(response) == [1, ["a": .null]], "\(text(response))")
            response = await send(DataRequest(method: "GET", path: "/todos", rawQuery: "id=gt.100", headers: [("Accept", "text/csv")]))
            #expect(response.status == 200)
            #expect(header(response, "Content-Type") == "text/csv; charset=utf-8")
            response = await call("GET", "/todos", "select=id", [("Prefer", "count=estimated")])
            #expect(json(response) == [["id": 1], ["id": 2]])
            #expect(header(response, "Content-Range")?.hasPrefix("0-1/") == true, "\(String(describing: header(response, "Content-Range")))")
            #expect(response.status == 206)
        }
    }

    @Test("functions: scalar, set-returning with filters, arrays from GET, void, and a write refused in a GET")
    func calls() async throws {
        try await withAPI { send, _ in
            var response = await send(DataRequest(method: "POST", path: "/rpc/add", body: Array(#"{"a":1,"b":2}"#.utf8)))
            #expect(text(response) == "3", "\(text(response))")
            response = await send(DataRequest(method: "GET", path: "/rpc/add", rawQuery: "a=5"))
            #expect(text(response) == "15")
            response = await send(DataRequest(method: "GET", path: "/rpc/todos_of", rawQuery: "uid=1&select=title,comments(text)&title=eq.one"))
            #expect(text(response) == #"[{"title":"one","comments":[{"text":"first"}, "# + "\n " + #"{"text":"second"}]}]"#, "\(text(response))")
            response = await send(DataRequest(method: "POST", path: "/rpc/sum_all", body: Array(#"{"ids":[1,2,3]}"#.utf8)))
            #expect(text(response) == "6")
            response = await send(DataRequest(method: "GET", path: "/rpc/sum_all", rawQuery: "ids={4,5}"))
            #expect(text(response) == "9")
            response = await send(DataRequest(method: "POST", path: "/rpc/touch", body: Array("{}".utf8)))
            #expect(response.status == 204)
            response = await send(DataRequest(method: "GET", path: "/rpc/touch"))
            #expect(response.status == 405, "\(text(response))")
        }
    }
}

/// The requests postgrest-py's integration suite sends (its `infra/init.sql` data), as that client
/// writes them, with the answers it expects.
@Suite("REST planning: postgrest-py's integration cases", .serialized, .enabled(if: ThrowAwayPostgres.canRun), ThrowAwayPostgres.Scope())
struct RESTClientCasesTests {
    static let schemaSQL = """
        CREATE TABLE countries (
            id int8 PRIMARY KEY, iso char(2) NOT NULL, country_name varchar(80) NOT NULL, nicename varchar(80) NOT NULL,
            iso3 char(3), numcode smallint, phonecode int NOT NULL);
        INSERT INTO countries VALUES
            (1, 'AF', 'AFGHANISTAN', 'Afghanistan', 'AFG', 4, 93), (2, 'AL', 'ALBANIA', 'Albania', 'ALB', 8, 355),
            (3, 'DZ', 'ALGERIA', 'Algeria', 'DZA', 12, 213), (4, 'AQ', 'ANTARCTICA', 'Antarctica', NULL, NULL, 0),
            (5, 'CR', 'COSTA RICA', 'Costa Rica', 'CRI', 188, 506), (6, 'ES', 'SPAIN', 'Spain', 'ESP', 724, 34),
            (7, 'TH', 'THAILAND', 'Thailand', 'THA', 764, 66), (8, 'TG', 'TOGO', 'Togo', 'TGO', 768, 228),
            (9, 'TT', 'TRINIDAD AND TOBAGO', 'Trinidad and Tobago', 'TTO', 780, 1868), (10, 'GB', 'UNITED KINGDOM', 'United Kingdom', 'GBR', 826, 44),
            (11, 'US', 'UNITED STATES', 'United States', 'USA', 840, 1), (12, 'ZW', 'ZIMBABWE', 'Zimbabwe', 'ZWE', 716, 263);
        CREATE TABLE cities (id int8 PRIMARY KEY, country_id int8 NOT NULL REFERENCES countries, name text);
        INSERT INTO cities VALUES (1, 10, 'London'), (2, 10, 'Manchester'), (3, 10, 'Liverpool'), (4, 10, 'Bristol'),
            (5, 11, 'Miami'), (6, 11, 'Huston'), (7, 11, 'Atlanta');
        CREATE TABLE users (id int8 PRIMARY KEY, name text, address jsonb);
        INSERT INTO users VALUES (1, 'Michael', '{ "postcode": 90210, "street": "Melrose Place" }'), (2, 'Jane', '{}');
        CREATE TABLE reservations (id int8 PRIMARY KEY, room_name text, during tsrange);
        INSERT INTO reservations VALUES (1, 'Emerald', '[2000-01-01 13:00, 2000-01-01 15:00)'), (2, 'Topaz', '[2000-01-02 09:00, 2000-01-02 10:00)');
        CREATE TABLE issues (id int8 PRIMARY KEY, title text, tags text[]);
        INSERT INTO issues VALUES
            (1, 'Cache invalidation is not working', array['is:open', 'severity:high', 'priority:low']),
            (2, 'Use better names', array['is:open', 'severity:low', 'priority:medium']),
            (3, 'Add missing postgrest filters', array['is:open', 'severity:low', 'priority:high']),
            (4, 'Add alias to filters', array['is:closed', 'severity:low', 'priority:medium']);
        CREATE FUNCTION list_stored_countries() RETURNS SETOF countries LANGUAGE sql AS 'SELECT * FROM countries';
        """

    /// (method, path, query as the client encodes it, headers, body, expected status, expected JSON).
    static let cases: [(String, String, String, [(String, String)], String, Int, String)] = [
        ("GET", "/countries", "select=country_name,iso&numcode=lte.8&numcode=gte.4", [("Prefer", "count=exact")], "", 200,
         #"[{"country_name":"AFGHANISTAN","iso":"AF"},{"country_name":"ALBANIA","iso":"AL"}]"#),
        ("GET", "/countries", "select=country_name,iso&numcode=eq.8&nicename=eq.Albania", [("Accept", "application/vnd.pgrst.object+json")], "", 200,
         #"{"country_name":"ALBANIA","iso":"AL"}"#),
        ("GET", "/users", "select=id,name&name=neq.Jane", [("Accept", "application/vnd.pgrst.object+json")], "", 200, #"{"id":1,"name":"Michael"}"#),
        ("GET", "/users", "select=name&address=cs.%7B%22postcode%22%3A+90210%7D", [("Accept", "application/vnd.pgrst.object+json")], "", 200,
         #"{"name":"Michael"}"#),
        ("GET", "/issues", "select=title&tags=cs.%7Bis%3Aopen%2Cpriority%3Alow%7D", [], "", 200, #"[{"title":"Cache invalidation is not working"}]"#),
        ("GET", "/reservations", "select=id,room_name&during=cs.%5B2000-01-01+13%3A00%2C+2000-01-01+13%3A30%29", [], "", 200, #"[{"id":1,"room_name":"Emerald"}]"#),
        ("GET", "/reservations", "select=id,room_name&during=cd.%5B2000-01-01+00%3A00%2C+2000-01-01+23%3A59%29", [], "", 200, #"[{"id":1,"room_name":"Emerald"}]"#),
        ("GET", "/reservations", "select=id,room_name&during=sr.%282000-01-02+08%3A00%2C2000-01-02+09%3A00%29", [], "", 200, #"[{"id":2,"room_name":"Topaz"}]"#),
        ("GET", "/reservations", "select=id,room_name&during=nxl.%282000-01-02+08%3A30%2C2000-01-02+09%3A30%29", [], "", 200, #"[{"id":2,"room_name":"Topaz"}]"#),
        ("GET", "/reservations", "select=id,room_name&during=sl.%282000-01-01+15%3A00%2C2000-01-02+16%3A00%29", [], "", 200, #"[{"id":1,"room_name":"Emerald"}]"#),
        ("GET", "/reservations", "select=id,room_name&during=nxr.%282000-01-01+14%3A00%2C2000-01-01+16%3A00%29", [], "", 200, #"[{"id":1,"room_name":"Emerald"}]"#),
        ("GET", "/reservations", "select=id,room_name&during=adj.%282000-01-01+12%3A00%2C2000-01-01+13%3A00%29", [], "", 200, #"[{"id":1,"room_name":"Emerald"}]"#),
        ("GET", "/issues", "select=title&tags=ov.%7Bis%3Aclosed%2Cseverity%3Ahigh%7D", [], "", 200,
         #"[{"title":"Cache invalidation is not working"},{"title":"Add alias to filters"}]"#),
        ("GET", "/reservations", "select=room_name&during=ov.%5B2000-01-01+12%3A45%2C+2000-01-01+13%3A15%29", [], "", 200, #"[{"room_name":"Emerald"}]"#),
        ("GET", "/countries", "select=country_name,iso&nicename=like.%25Alba%25", [], "", 200, #"[{"country_name":"ALBANIA","iso":"AL"}]"#),
        ("GET", "/countries", "select=country_name,iso&nicename=ilike.%25alban%25", [], "", 200, #"[{"country_name":"ALBANIA","iso":"AL"}]"#),
        ("GET", "/countries", "select=nicename,iso&nicename=like%28all%29.%7BA%2A%2C%2An%7D", [], "", 200, #"[{"nicename":"Afghanistan","iso":"AF"}]"#),
        ("GET", "/countries", "select=nicename,iso&nicename=ilike%28any%29.%7Bal%2A%2C%2Aia%7D", [], "", 200,
         #"[{"nicename":"Albania","iso":"AL"},{"nicename":"Algeria","iso":"DZ"}]"#),
        ("GET", "/countries", "select=country_name,iso&numcode=is.null&limit=1&order=nicename", [], "", 200, #"[{"country_name":"ANTARCTICA","iso":"AQ"}]"#),
        ("GET", "/countries", "select=country_name,iso&numcode=not.is.null&limit=1&order=nicename", [], "", 200, #"[{"country_name":"AFGHANISTAN","iso":"AF"}]"#),
        ("GET", "/countries", "select=country_name,iso&nicename=in.%28Albania%2CAlgeria%29", [], "", 200,
         #"[{"country_name":"ALBANIA","iso":"AL"},{"country_name":"ALGERIA","iso":"DZ"}]"#),
        ("GET", "/countries", "select=country_name,iso&or=%28iso.eq.DZ%2Cnicename.eq.Albania%29", [], "", 200,
         #"[{"country_name":"ALBANIA","iso":"AL"},{"country_name":"ALGERIA","iso":"DZ"}]"#),
        ("GET", "/countries", "select=country_name,iso&or=%28phonecode.gt.506%2Cand%28iso.eq.AL%2Cnicename.eq.Albania%29%29", [], "", 200,
         #"[{"country_name":"ALBANIA","iso":"AL"},{"country_name":"TRINIDAD AND TOBAGO","iso":"TT"}]"#),
        ("GET", "/issues", "select=id,title&or=%28id.in.%281%2C4%29%2Ctags.cs.%7Bis%3Aopen%2Cpriority%3Ahigh%7D%29", [], "", 200,
         #"[{"id":1,"title":"Cache invalidation is not working"},{"id":3,"title":"Add missing postgrest filters"},{"id":4,"title":"Add alias to filters"}]"#),
        ("GET", "/countries", "select=country_name,cities%21inner%28name%29&cities.or=%28country_id.eq.10%2Cname.eq.Paris%29", [], "", 200,
         #"[{"country_name":"UNITED KINGDOM","cities":[{"name":"London"},{"name":"Manchester"},{"name":"Liverpool"},{"name":"Bristol"}]}]"#),
        ("POST", "/rpc/list_stored_countries", "select=nicename,country_name,iso&nicename=eq.Albania", [("Accept", "application/vnd.pgrst.object+json")], "{}", 200,
         #"{"nicename":"Albania","country_name":"ALBANIA","iso":"AL"}"#),
        ("POST", "/rpc/list_stored_countries", "select=nicename,country_name,iso&nicename=eq.Albania&limit=1", [], "{}", 200,
         #"[{"nicename":"Albania","country_name":"ALBANIA","iso":"AL"}]"#),
        ("POST", "/rpc/list_stored_countries", "select=nicename,iso&offset=1&limit=2", [], "{}", 200,
         #"[{"nicename":"Albania","iso":"AL"},{"nicename":"Algeria","iso":"DZ"}]"#),
        ("GET", "/countries", "select=country_name,iso&limit=3&order=nicename.desc", [], "", 200,
         #"[{"country_name":"ZIMBABWE","iso":"ZW"},{"country_name":"UNITED STATES","iso":"US"},{"country_name":"UNITED KINGDOM","iso":"GB"}]"#),
        ("PATCH", "/countries", "nicename=in.%28Albania%2CAlgeria%29", [("Prefer", "handling=strict,max-affected=1")], #"{"country_name":"X"}"#, 400,
         #"{"code":"PGRST124","details":"The query affects 2 rows","hint":null,"message":"Query result exceeds max-affected preference constraint"}"#),
        ("DELETE", "/countries", "nicename=in.%28Albania%2CAlgeria%29", [("Prefer", "handling=strict,max-affected=1")], "", 400,
         #"{"code":"PGRST124","details":"The query affects 2 rows","hint":null,"message":"Query result exceeds max-affected preference constraint"}"#),
        ("GET", "/countries", "select=id&id=gt.10&order=id", [("Range", "0-0"), ("Range-Unit", "items"), ("Prefer", "count=exact")], "", 206, #"[{"id":11}]"#),
        ("GET", "/countries", "select=id&id=lt.0", [("Accept", "application/vnd.pgrst.object+json")], "", 406,
         #"{"code":"PGRST116","details":"The result contains 0 rows","hint":null,"message":"Cannot coerce the result to a single JSON object"}"#),
        ("DELETE", "/countries", "", [], "{}", 400, #"{"code":"21000","details":null,"hint":null,"message":"DELETE requires a WHERE clause"}"#),
        ("POST", "/countries", "", [("Prefer", "return=representation")], #"{"id":1,"iso":"AF","country_name":"x","nicename":"x","phonecode":1}"#, 409,
         #"{"code":"23505","details":"Key (id)=(1) already exists.","hint":null,"message":"duplicate key value violates unique constraint \"countries_pkey\""}"#),
    ]

    static let identity = RequestIdentity(role: "postgres", claimsJSON: #"{"role":"postgres"}"#)

    var pg: ThrowAwayPostgres { get throws { try #require(ThrowAwayPostgres.current) } }

    @Test("each request gets the status and JSON postgrest-py expects")
    func clientCases() async throws {
        let database = "rest_\(Identifiers.shortID(length: 8).lowercased())"
        try await withConnection(try pg.connection()) { admin in
            try await admin.execute("CREATE DATABASE \(database)")
        }
        try await withConnection(try pg.connection(database: database)) { connection in
            try await connection.execute(Self.schemaSQL)
            let cache = try await SchemaLoader.load(connection: connection, schemas: ["public"])
            for (method, path, query, headers, body, status, expected) in Self.cases {
                let request = DataRequest(method: method, path: path, rawQuery: query, headers: headers.map { (name: $0.0, value: $0.1) }, body: Array(body.utf8))
                let response = (await RESTHandler.handle(request, identity: Self.identity, schema: cache, settings: RESTSettings(), connection: connection)).response
                let text = String(decoding: response.body, as: UTF8.self)
                #expect(response.status == status, "\(method) \(path)?\(query): \(text)")
                let decoder = JSONDecoder()
                let actual = try? decoder.decode(JSONValue.self, from: Data(response.body))
                #expect(actual == (try decoder.decode(JSONValue.self, from: Data(expected.utf8))), "\(method) \(path)?\(query): \(text)")
            }
            let count = try await connection.query("SELECT count(*) FROM countries WHERE country_name = 'X'").scalar
            #expect(count == "0", "refused writes were rolled back")
        }
    }
}
