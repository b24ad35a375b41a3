import BranchAPI
import BranchCore
@testable import BranchCLI
@testable import BranchEngine
import BranchPostgres
import BranchREST
@testable import BranchServer
import Foundation
import Testing

/// The pure parts of admin SQL and migrations: cutting SQL into statements, what may run in a
/// migration's transaction, Postgres values as JSON, endpoint changes, migration files.
@Suite struct AgentSQLTests {
    // MARK: Statements

    @Test func splitsOnSemicolonsOutsideQuotesCommentsAndDollarQuotes() {
        let sql = """
            create table t (a text default 'x;y', "b;c" int); -- a comment; with a semicolon
            /* block; /* nested; */ still; */ insert into t values (E'it\\'s; fine', 1);
            create function f() returns int language plpgsql as $body$ begin return 1; end; $body$;
            select $$a;b$$, $1;;
            """
        let statements = SQLStatements(sql).statements
        #expect(statements.count == 4)
        #expect(statements[0].text.hasPrefix("create table t"))
        #expect(statements[1].text.hasPrefix("insert into t"))
        #expect(statements[1].line == 2)
        #expect(statements[2].leadingWords.prefix(3) == ["CREATE", "FUNCTION", "F"])
        #expect(statements[3].text == "select $$a;b$$, $1")
    }

    @Test func keepsBeginAtomicBodiesWhole() {
        let sql = """
            create function add(a int, b int) returns int language sql
            begin atomic
              select case when a > 0 then a else 0 end + b;
              select 1;
            end;
            select 2;
            """
        let statements = SQLStatements(sql).statements
        #expect(statements.count == 2)
        #expect(statements[0].text.hasSuffix("end"))
        #expect(statements[1].text == "select 2")
    }

    @Test func mapsAPositionToItsStatementInCodePoints() {
        let sql = "select 1;\r\nselect 'é';\r\nselect bogus;"
        let statements = SQLStatements(sql)
        // Postgres counts code points: \r\n is two, é is one.
        let position = Array(sql.unicodeScalars).firstIndex(of: "b")! + 1
        #expect(statements.statementIndex(atPosition: position) == 2)
        #expect(statements.statements[2].line == 3)
    }

    @Test func classifiesWhatCannotRunInATransaction() {
        func reason(_ sql: String) -> String? { SQLStatements(sql).statements.first?.cannotRunInTransaction }
        #expect(reason("create index concurrently i on t (a)") != nil)
        #expect(reason("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)") != nil)
        #expect(reason("drop index concurrently i") != nil)
        #expect(reason("vacuum analyze t") != nil)
        #expect(reason("create database x") != nil)
        #expect(reason("alter system set work_mem = '1MB'") != nil)
        #expect(reason("create index i on t (a)") == nil)
        #expect(reason("insert into t values ('vacuum')") == nil)
        #expect(SQLStatements("commit").statements[0].isTransactionControl)
        #expect(SQLStatements("rollback to savepoint a").statements[0].isTransactionControl == false)
        #expect(SQLStatements("start transaction").statements[0].beginsTransaction)
    }

    // MARK: Migration scripts

    @Test func refusesTransactionControlAndConcurrentIndexesWithTheStatementNamed() throws {
        #expect(throws: EngineError.self) { try MigrationScript("create table a (id int);\ncommit;\ncreate table b (id int);") }
        do {
            _ = try MigrationScript("create table a (id int);\ncreate index concurrently i on a (id);")
            Issue.record("accepted CREATE INDEX CONCURRENTLY")
        } catch let error as EngineError {
            #expect(error.code == .migrationNotTransactional)
            #expect(error.message.contains("Statement 2 (line 2)"))
            #expect(error.message.contains("CONCURRENTLY"))
        }
        #expect(throws: EngineError.self) { try MigrationScript("  -- nothing\n") }
    }

    @Test func acceptsAWholeFileTransactionWrapperKeepingPositions() throws {
        let original = "BEGIN;\ncreate table a (id int);\nCOMMIT;\n"
        let script = try MigrationScript(original)
        #expect(script.unwrapped)
        #expect(script.text.unicodeScalars.count == original.unicodeScalars.count)
        #expect(SQLStatements(script.text).statements.map(\.text) == ["create table a (id int)"])
        #expect(script.checksum.count == 64)
    }

    @Test func versionsAndNames() throws {
        #expect(MigrationScript.newVersion(at: Date(timeIntervalSince1970: 1_796_474_215)) == "20261205123655")
        try MigrationScript.validate(version: "20261205120000", name: "create_todos")
        let noon = Date(timeIntervalSince1970: 1_796_472_000)  // 2026-12-05 12:00:00 UTC
        #expect(MigrationScript.newVersion(after: ["20261205115959"], at: noon) == "20261205120000")
        #expect(MigrationScript.newVersion(after: ["20261205120000"], at: noon) == "20261205120001")
        #expect(MigrationScript.newVersion(after: ["20261205120000", "7"], at: noon) == "20261205120001")
        #expect(throws: EngineError.self) { try MigrationScript.validate(version: "12a", name: "x") }
        #expect(throws: EngineError.self) { try MigrationScript.validate(version: "1", name: "two\nlines") }
        #expect(MigrationFiles.parse("20261205120000_create_todos.sql")! == ("20261205120000", "create_todos"))
        #expect(MigrationFiles.parse("seed.sql") == nil)
    }

    @Test func upSkipsAppliedFilesAndRefusesOneThatChanged() throws {
        func file(_ name: String, _ sql: String) -> MigrationFiles.File {
            let parsed = MigrationFiles.parse(name)
            return .init(fileName: name, version: parsed?.version, name: parsed?.name ?? name, sql: sql, checksum: MigrationFiles.checksum(sql))
        }
        let first = file("001_a.sql", "create table a (id int);"), second = file("002_b.sql", "create table b (id int);")
        let applied = [Schemas.MigrationInfo(
            appliedAt: Date(), checksum: first.checksum, hasDown: false, name: "a", source: .branch, version: "001")]
        let plan = try MigrationFiles.plan([first, second], history: applied)
        #expect(plan.skipped.map(\.fileName) == ["001_a.sql"])
        #expect(plan.pending.map(\.fileName) == ["002_b.sql"])
        let changed = file("001_a.sql", "create table a (id bigint);")
        #expect(throws: CLIError.self) { try MigrationFiles.plan([changed], history: applied) }
        // History read from Supabase has no checksum: its versions count as applied.
        let supabase = [Schemas.MigrationInfo(appliedAt: Date(), checksum: "", hasDown: false, name: "a", source: .supabase, version: "001")]
        #expect(try MigrationFiles.plan([changed], history: supabase).skipped.count == 1)
    }

    // MARK: Values

    @Test func postgresValuesAsJSON() {
        #expect(SQLValues.json("t", type: "bool") == .bool(true))
        #expect(SQLValues.json("42", type: "int4") == .integer(42))
        #expect(SQLValues.json("9007199254740991", type: "int8") == .integer(9_007_199_254_740_991))
        #expect(SQLValues.json("9007199254740993", type: "int8") == .string("9007199254740993"))
        #expect(SQLValues.json("1.5", type: "numeric") == .number(1.5))
        #expect(SQLValues.json("12", type: "numeric") == .integer(12))
        #expect(SQLValues.json("0.1234567890123456789", type: "numeric") == .string("0.1234567890123456789"))
        #expect(SQLValues.json("NaN", type: "numeric") == .string("NaN"))
        #expect(SQLValues.json("Infinity", type: "float8") == .string("Infinity"))
        #expect(SQLValues.json(#"{"a": [1, null]}"#, type: "jsonb") == .object(["a": .array([.integer(1), .null])]))
        #expect(SQLValues.json("{1,2}", type: "_int4") == .string("{1,2}"))
        #expect(SQLValues.json(nil, type: "text") == .null)
        #expect(SQLValues.command("INSERT 0 3") == "INSERT")
        #expect(SQLValues.command("CREATE TABLE") == "CREATE TABLE")
    }

    // MARK: Endpoints

    @Test func endpointChangesBetweenSchemas() {
        func column(_ name: String, _ type: String, nullable: Bool = true) -> Column {
            Column(name: name, type: type, udtName: type, nullable: nullable, defaultExpression: nil)
        }
        func relation(_ name: String, _ columns: [Column]) -> Relation {
            Relation(
                name: QualifiedName("public", name), kind: .table, comment: nil, columns: columns, primaryKey: ["id"],
                insertable: true, updatable: true, deletable: true)
        }
        var before = SchemaCache.empty, after = SchemaCache.empty
        before.relations = [
            QualifiedName("public", "todos"): relation("todos", [column("id", "bigint", nullable: false), column("done", "boolean")]),
            QualifiedName("public", "old"): relation("old", [column("id", "bigint")]),
        ]
        after.relations = [
            QualifiedName("public", "todos"): relation("todos", [
                column("id", "bigint", nullable: false), column("done", "text"), column("title", "text"),
            ]),
            QualifiedName("public", "tags"): relation("tags", [column("id", "bigint")]),
        ]
        let changes = EndpointChanges.compare(before: before, after: after)
        #expect(changes.map(\.path) == ["/rest/v1/old", "/rest/v1/tags", "/rest/v1/todos"])
        #expect(changes[0].change == .removed)
        #expect(changes[1].change == .added)
        #expect(changes[2].columnsAdded == ["title"])
        #expect(changes[2].columnsChanged == ["done: boolean → text"])
    }

    // MARK: Who may call

    @Test func projectKeysReachOnlySQLAndMigrations() {
        #expect(APICaller.acceptsProjectKeys("/api/v1/projects/app/branches/main/sql"))
        #expect(APICaller.acceptsProjectKeys("/api/v1/projects/app/branches/main/migrations"))
        #expect(APICaller.acceptsProjectKeys("/api/v1/projects/app/branches/main/migrations/20261205120000/rollback"))
        #expect(APICaller.acceptsProjectKeys("/api/admin/query"))
        #expect(!APICaller.acceptsProjectKeys("/api/v1/projects/app/branches/main"))
        #expect(!APICaller.acceptsProjectKeys("/api/v1/projects/app/branches/main/migrations/x/y"))
        #expect(!APICaller.acceptsProjectKeys("/api/v1/projects"))
        #expect(APICaller.admin.label == "admin key")
        #expect(APICaller.projectKey(token: "abc", project: "app").label.hasPrefix("service_role key sha256:"))
    }
}
