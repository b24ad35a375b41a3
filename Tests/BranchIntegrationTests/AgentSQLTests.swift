import BranchSystem
import BranchTesting
import Foundation
import Testing

@Suite("Admin SQL and migrations: what an agent builds a database with, and what it cannot break", .serialized)
struct AgentSQLTests {
    /// One call to the service: status and JSON body.
    struct Answer {
        let status: Int
        let body: [String: Any]

        var error: [String: Any] { body["error"] as? [String: Any] ?? [:] }
        var code: String? { error["code"] as? String }
        var results: [[String: Any]] { body["results"] as? [[String: Any]] ?? [] }
    }

    static func call(_ env: TestEnvironment, _ method: String, _ path: String, _ body: Any? = nil, key: String? = nil) async throws -> Answer {
        var arguments = ["-X", method, "-H", "Authorization: Bearer \(key ?? env.token)", env.url + path]
        var file: String?
        if let body {
            let path = "\(env.root)/body-\(UUID().uuidString).json"
            try JSONSerialization.data(withJSONObject: body).write(to: URL(fileURLWithPath: path))
            arguments += ["-H", "Content-Type: application/json", "--data-binary", "@\(path)"]
            file = path
        }
        defer { if let file { try? FileManager.default.removeItem(atPath: file) } }
        let (status, text) = try await APIAndCLITests.curl(arguments)
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        return Answer(status: status, body: object)
    }

    static func sql(_ env: TestEnvironment, _ query: String, project: String = "app", branch: String = "main", key: String? = nil,
                    extra: [String: Any] = [:]) async throws -> Answer {
        try await call(env, "POST", "/api/v1/projects/\(project)/branches/\(branch)/sql", ["query": query].merging(extra) { $1 }, key: key)
    }

    static func scalar(_ env: TestEnvironment, _ query: String, branch: String = "main") async throws -> Any? {
        let answer = try await sql(env, query, branch: branch)
        #expect(answer.status == 200, "\(query): \(answer.body)")
        return ((answer.results.last?["rows"] as? [[Any]])?.first)?.first
    }

    static func serviceKey(_ env: TestEnvironment, _ project: String) async throws -> (service: String, anon: String) {
        let keys = try await call(env, "GET", "/api/v1/projects/\(project)/keys")
        return (keys.body["serviceRoleKey"] as? String ?? "", keys.body["anonKey"] as? String ?? "")
    }

    @Test("admin SQL: one result per statement with typed values, one transaction, structured errors, limits, and only the right keys")
    func adminSQL() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            _ = try await env.json(ProjectCreated.self, "project", "create", "other")

            // Several statements, each with its answer; values typed by their column's type.
            let made = try await Self.sql(env, """
                create table items (id bigint generated always as identity primary key, name text not null, price numeric, tags jsonb,
                                    big int8, done bool default false);
                insert into items (name, price, tags, big) values ('a', 1.50, '{"k": [1, 2]}', 9007199254740993), ('b', null, null, 7);
                select id, name, price, tags, big, done, '2026-12-05'::date as day from items order by id
                """)
            #expect(made.status == 200, "\(made.body)")
            #expect(made.results.map { $0["command"] as? String } == ["CREATE TABLE", "INSERT", "SELECT"])
            #expect(made.results[1]["rowCount"] as? Int == 2)
            let select = made.results[2]
            let columns = (select["columns"] as? [[String: Any]] ?? []).map { "\($0["name"]!):\($0["type"]!)" }
            #expect(columns == ["id:int8", "name:text", "price:numeric", "tags:jsonb", "big:int8", "done:bool", "day:date"])
            let rows = select["rows"] as? [[Any]] ?? []
            #expect(rows.count == 2)
            #expect(rows.first?[0] as? Int == 1)
            #expect(rows.first?[2] as? Double == 1.5)
            #expect((rows.first?[3] as? [String: Any])?["k"] as? [Int] == [1, 2])
            #expect(rows.first?[4] as? String == "9007199254740993", "an int8 past 2^53 goes as a string")
            #expect(rows.last?[4] as? Int == 7)
            #expect(rows.first?[5] as? Bool == false)
            #expect(rows.first?[6] as? String == "2026-12-05")
            #expect(rows.last?[2] is NSNull)

            // Parameters, notices.
            let bound = try await Self.sql(env, "select name from items where id = $1", extra: ["params": [2]])
            #expect(((bound.results.first?["rows"] as? [[Any]])?.first?.first as? String) == "b")
            let noticed = try await Self.sql(env, "do $$ begin raise notice 'hello %', 42; end $$")
            #expect((noticed.results.first?["notices"] as? [String])?.first == "NOTICE: hello 42")

            // A failing statement: nothing of the script is kept; the error names the statement.
            let failed = try await Self.sql(env, "insert into items (name) values ('c');\nupdate items set price = 1 / 0;\nselect 1")
            #expect(failed.status == 422)
            #expect(failed.code == "sql_failed")
            #expect(failed.error["sqlstate"] as? String == "22012")
            #expect(failed.error["statementIndex"] as? Int == 1)
            #expect(failed.error["line"] as? Int == 2)
            #expect(failed.error["statement"] as? String == "update items set price = 1 / 0")
            #expect(try await Self.scalar(env, "select count(*) from items") as? Int == 2, "the insert before the failure was rolled back")

            // SQL that is not SQL: a syntax error with its position.
            let garbage = try await Self.sql(env, "select 1;\nslect name from items")
            #expect(garbage.status == 422)
            #expect(garbage.error["sqlstate"] as? String == "42601")
            #expect(garbage.error["position"] as? Int == 11)
            #expect(garbage.error["statementIndex"] as? Int == 1)

            // Read-only, the statement timeout, the size cap.
            let readOnly = try await Self.sql(env, "delete from items", extra: ["readOnly": true])
            #expect(readOnly.error["sqlstate"] as? String == "25006")
            #expect(try await Self.sql(env, "commit", extra: ["readOnly": true]).status == 400)
            let slow = try await Self.sql(env, "select pg_sleep(5)", extra: ["timeoutMs": 200])
            #expect(slow.status == 422)
            #expect(slow.error["sqlstate"] as? String == "57014")
            let huge = try await Self.sql(env, "select repeat('x', 1000) from generate_series(1, 20000)")
            #expect(huge.status == 200)
            #expect(huge.body["truncated"] as? Bool == true)
            #expect(huge.results.first?["rowCount"] as? Int == 20000)
            #expect((huge.results.first?["rows"] as? [Any])?.count ?? 0 < 20000)
            #expect(try await Self.sql(env, "select 1", extra: ["timeoutMs": 0]).status == 400)
            #expect(try await Self.sql(env, "  -- nothing").status == 400)
            #expect(try await Self.sql(env, "select 1; select 2", extra: ["params": [1]]).status == 400)

            // As the project's owner, not the superuser.
            let superuser = try await Self.sql(env, "alter system set work_mem = '1MB'")
            #expect(superuser.status == 422)
            #expect(try await Self.scalar(env, "select current_user") as? String == "app")

            // Keys: the project's service_role key, not its anon key nor another project's key.
            let (service, anon) = try await Self.serviceKey(env, "app")
            let (otherService, _) = try await Self.serviceKey(env, "other")
            #expect(try await Self.sql(env, "select 1", key: service).status == 200)
            #expect(try await Self.sql(env, "select 1", key: anon).status == 401)
            #expect(try await Self.sql(env, "select 1", key: otherService).status == 401)
            #expect(try await Self.call(env, "GET", "/api/v1/projects", key: service).status == 401, "a project key reaches nothing else")
            let seeds = try await Self.call(env, "POST", "/api/admin/query", ["project": "app", "sql": "select count(*) from items"], key: service)
            #expect(seeds.status == 200)
            #expect(((seeds.results.first?["rows"] as? [[Any]])?.first?.first as? Int) == 2)
            #expect(try await Self.call(env, "POST", "/api/admin/query", ["project": "other", "sql": "select 1"], key: service).status == 401)
            #expect(try await Self.sql(env, "select 1", project: "nope").status == 404)
            #expect(try await Self.sql(env, "select 1", branch: "nope").status == 404)

            // The CLI prints tables, and the API's answer with --json.
            let printed = try await env.cli("sql", "--project", "app", "select name from items order by id")
            #expect(printed.succeeded && printed.stdout.contains("name") && printed.stdout.contains("(2 rows)"), "\(printed.stderr)")
            let cliFailure = try await env.cli("sql", "--project", "app", "--json", "select 1/0")
            #expect(!cliFailure.succeeded)
            #expect(cliFailure.stdout.contains("\"sqlstate\""))

            // Sessions are reused (SessionPool), but nothing one request leaves in its session
            // reaches the next: settings, role, temporary tables, advisory locks, an open transaction.
            let pid = try await Self.scalar(env, "select pg_backend_pid()") as? Int
            let again = try await Self.scalar(env, "select pg_backend_pid()") as? Int
            #expect(pid != nil && again == pid, "the next request reuses the session")
            let searchPath = try await Self.scalar(env, "show search_path") as? String
            let leftovers = try await Self.sql(env, """
                set search_path = pg_catalog; set application_name = 'leftover'; create temp table scratch(a int);
                select pg_advisory_lock(4242); prepare leftover as select 1
                """)
            #expect(leftovers.status == 200, "\(leftovers.body)")
            #expect(try await Self.scalar(env, "show search_path") as? String == searchPath)
            #expect(try await Self.scalar(env, "show application_name") as? String != "leftover")
            #expect(try await Self.scalar(env, "select to_regclass('pg_temp.scratch') is null") as? Bool == true)
            #expect(try await Self.scalar(env, "select count(*) from pg_prepared_statements") as? Int == 0)
            #expect(try await Self.scalar(env, "select pg_try_advisory_lock(4242) and pg_advisory_unlock(4242)") as? Bool == true)
            let unfinished = try await Self.sql(env, "begin; insert into items (name) values ('never committed')")
            #expect(unfinished.status == 200, "\(unfinished.body)")
            #expect(try await Self.scalar(env, "select count(*) from items where name = 'never committed'") as? Int == 0)
            #expect(try await Self.scalar(env, "select count(*) from pg_stat_activity where state like 'idle in transaction%'") as? Int == 0)

            // A project limited to few connections keeps none idle: its app needs them.
            _ = try await env.json(ProjectCreated.self, "project", "create", "tight", "--max-connections", "10")
            let first = try await Self.sql(env, "select pg_backend_pid()", project: "tight")
            let second = try await Self.sql(env, "select pg_backend_pid()", project: "tight")
            let pids = [first, second].map { (($0.results.last?["rows"] as? [[Any]])?.first)?.first as? Int }
            #expect(pids[0] != nil && pids[1] != nil && pids[0] != pids[1], "\(first.body) \(second.body)")
        }
    }

    @Test("migrations: check on a copy, apply whole or not at all, history carried by branches, rollback by down script or snapshot")
    func migrations() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            let base = "/api/v1/projects/app/branches/main/migrations"
            let create = "create table todos (id bigint generated always as identity primary key, title text not null, done boolean default false);\n"
                + "insert into todos (title) values ('one'), ('two');"

            // Check: the branch is untouched; the report says what would change.
            let check = try await Self.call(env, "POST", base + "?check=true", ["name": "create_todos", "sql": create])
            #expect(check.status == 200, "\(check.body)")
            #expect(check.body["ok"] as? Bool == true)
            #expect(check.body["classification"] as? String == "additive")
            #expect(check.body["rowsAffected"] as? Int == 2)
            let endpoints = check.body["endpoints"] as? [[String: Any]] ?? []
            #expect(endpoints.first?["path"] as? String == "/rest/v1/todos")
            #expect(endpoints.first?["change"] as? String == "added")
            #expect(try await Self.scalar(env, "select to_regclass('public.todos') is null") as? Bool == true)
            let branches = try await Self.call(env, "GET", "/api/v1/projects/app/branches")
            #expect((branches.body["branches"] as? [Any])?.count == 1, "the throw-away branch is gone")

            // Apply: the REST API sees the table on its next request.
            let applied = try await Self.call(env, "POST", base, ["name": "create_todos", "sql": create, "version": "20261205100000"])
            #expect(applied.status == 201, "\(applied.body)")
            #expect(applied.body["rowsAffected"] as? Int == 2)
            let migration = applied.body["migration"] as? [String: Any] ?? [:]
            #expect(migration["version"] as? String == "20261205100000")
            #expect((migration["appliedBy"] as? String)?.hasPrefix("admin@localhost (token tk_") == true, "\(migration)")
            #expect((migration["checksum"] as? String)?.count == 64)
            let keys = try await Self.serviceKey(env, "app")
            let rest = try await APIAndCLITests.curl(["-H", "apikey: \(keys.service)", "-H", "Authorization: Bearer \(keys.service)",
                                                      env.url + "/p/app/rest/v1/todos?select=title&order=id"])
            #expect(rest.status == 200 && rest.body.contains("\"one\""), "\(rest.body)")
            #expect(try await Self.call(env, "POST", base, ["name": "again", "sql": create, "version": "20261205100000"]).code == "migration_exists")
            #expect(try await Self.call(env, "POST", base, ["name": "x", "sql": "select 1", "version": "20261205100000"]).code == "migration_changed")

            // A failing migration changes nothing and names the statement; no snapshot is left.
            let snapshotsBefore = try await Self.call(env, "GET", "/api/v1/projects/app/snapshots")
            let failing = "alter table todos add column owner text;\nupdate todos set owner = 'me';\nalter table todos add constraint done_check check (title = 'x');"
            let failed = try await Self.call(env, "POST", base, ["name": "bad", "sql": failing], key: keys.service)
            #expect(failed.status == 422)
            #expect(failed.code == "migration_failed")
            #expect(failed.error["sqlstate"] as? String == "23514")
            #expect(failed.error["statementIndex"] as? Int == 2)
            #expect(failed.error["line"] as? Int == 3)
            #expect(try await Self.scalar(env, "select count(*) from information_schema.columns where table_name = 'todos' and column_name = 'owner'") as? Int == 0)
            let snapshotsAfter = try await Self.call(env, "GET", "/api/v1/projects/app/snapshots")
            #expect((snapshotsAfter.body["snapshots"] as? [Any])?.count == (snapshotsBefore.body["snapshots"] as? [Any])?.count)
            let syntax = try await Self.call(env, "POST", base, ["name": "typo", "sql": "create tabel x (id int);"])
            #expect(syntax.error["position"] as? Int == 8)

            // What cannot run in a transaction is refused before anything runs; so is 50 MB.
            let concurrently = try await Self.call(env, "POST", base, ["name": "idx", "sql": "create index concurrently todos_title on todos (title);"])
            #expect(concurrently.status == 400)
            #expect(concurrently.code == "migration_not_transactional")
            let big = try await Self.call(env, "POST", base, ["name": "big", "sql": "select '" + String(repeating: "x", count: 50 << 20) + "';"])
            #expect(big.status == 413)

            // A second migration with a down script, applied by the service key; branches carry the history.
            let second = try await Self.call(env, "POST", base, [
                "name": "add_priority", "version": "20261205100100", "sql": "alter table todos add column priority int not null default 0;",
                "down": "alter table todos drop column priority;",
            ], key: keys.service)
            #expect(second.status == 201, "\(second.body)")
            #expect(((second.body["migration"] as? [String: Any])?["appliedBy"] as? String)?.hasPrefix("service_role key sha256:") == true)
            _ = try await env.cli("create", "feature", "--project", "app")
            let carried = try await Self.call(env, "GET", "/api/v1/projects/app/branches/feature/migrations")
            #expect((carried.body["migrations"] as? [[String: Any]])?.map { $0["version"] as? String } == ["20261205100000", "20261205100100"])

            // Roll back by down script: the column goes, the history row too.
            let dryDown = try await Self.call(env, "POST", base + "/20261205100100/rollback")
            #expect(dryDown.body["method"] as? String == "down")
            #expect(dryDown.body["applied"] as? Bool == false)
            let down = try await Self.call(env, "POST", base + "/20261205100100/rollback?confirm=true")
            #expect(down.body["applied"] as? Bool == true, "\(down.body)")
            #expect(try await Self.scalar(env, "select count(*) from information_schema.columns where table_name = 'todos' and column_name = 'priority'") as? Int == 0)

            // Roll back by snapshot: a dry run lists the writes since, and changes nothing.
            _ = try await Self.sql(env, "insert into todos (title) values ('three'); update todos set done = true where title = 'one'")
            let dry = try await Self.call(env, "POST", base + "/20261205100000/rollback")
            #expect(dry.body["method"] as? String == "restore")
            let lost = dry.body["lostWrites"] as? [[String: Any]] ?? []
            #expect(lost.first?["table"] as? String == "public.todos")
            #expect(lost.first?["inserted"] as? Int == 1)
            #expect(lost.first?["updated"] as? Int == 1)
            #expect(try await Self.scalar(env, "select count(*) from todos") as? Int == 3)
            let restored = try await Self.call(env, "POST", base + "/20261205100000/rollback?confirm=true")
            #expect(restored.body["applied"] as? Bool == true, "\(restored.body)")
            #expect(try await Self.scalar(env, "select to_regclass('public.todos') is null") as? Bool == true)
            #expect(((try await Self.call(env, "GET", base)).body["migrations"] as? [Any])?.isEmpty == true)
            #expect(try await Self.call(env, "POST", base + "/20261205100000/rollback").code == "migration_not_found")
        }
    }

    @Test("migrations on one branch are serialized; one during a restore is refused; `migrate up` follows the Supabase layout")
    func concurrencyAndFolders() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            let base = "/api/v1/projects/app/branches/main/migrations"
            _ = try await Self.sql(env, "create table log (at timestamptz default clock_timestamp(), what text)")

            // Two at once: the second starts after the first committed (never interleaved).
            async let first = Self.call(env, "POST", base, [
                "name": "slow", "version": "1", "sql": "insert into log (what) values ('first start'); select pg_sleep(1); insert into log (what) values ('first end');",
            ])
            try await Task.sleep(for: .milliseconds(500))
            async let second = Self.call(env, "POST", base, ["name": "quick", "version": "2", "sql": "insert into log (what) values ('second');"])
            let (one, two) = try await (first, second)
            #expect(one.status == 201 && two.status == 201, "\(one.body) \(two.body)")
            let order = try await Self.sql(env, "select string_agg(what, ',' order by at) from log")
            #expect(((order.results.first?["rows"] as? [[Any]])?.first?.first as? String) == "first start,first end,second")

            // During an in-place restore (held for 3 s at its exchange step by BRANCH_PAUSE_AT).
            let snapshot = try await Self.call(env, "POST", "/api/v1/projects/app/snapshots", ["branch": "main"])
            let id = (snapshot.body["snapshot"] as? [String: Any])?["id"] as? String ?? ""
            _ = await env.stopService()
            try await env.startService(environment: ["BRANCH_PAUSE_AT": "replace.before-exchange:4"])
            async let restore = Self.call(env, "POST", "/api/v1/projects/app/snapshots/\(id)/restore", ["inPlace": true])
            try await Task.sleep(for: .seconds(1.5))
            let busy = try await Self.call(env, "POST", base, ["name": "during", "sql": "create table during (id int);"])
            #expect(busy.status == 409)
            #expect(busy.code == "branch_busy", "\(busy.body)")
            #expect(try await restore.status == 200)

            // `branch migrate up` over a supabase/migrations folder: applies in name order, skips what is applied, refuses a changed file.
            let folder = "\(env.root)/supabase/migrations"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try "create table a (id int);".write(toFile: "\(folder)/20261205110000_create_a.sql", atomically: true, encoding: .utf8)
            try "create table b (a_id int);".write(toFile: "\(folder)/20261205110100_create_b.sql", atomically: true, encoding: .utf8)
            let up = try await env.cli("migrate", "up", folder, "--project", "app")
            #expect(up.succeeded, "\(up.stderr)")
            #expect(up.stdout.contains("2 applied"))
            let again = try await env.cli("migrate", "up", folder, "--project", "app")
            #expect(again.stdout.contains("0 applied, 2 already applied"), "\(again.stdout)")
            try "create table a (id bigint);".write(toFile: "\(folder)/20261205110000_create_a.sql", atomically: true, encoding: .utf8)
            #expect(try await env.errorCode("migrate", "up", folder, "--project", "app") == "migration_changed")
            let listed = try await env.cli("migrate", "list", "--project", "app")
            #expect(listed.stdout.contains("create_a") && listed.stdout.contains("create_b"))

            // History a Supabase dump carries is read as history.
            _ = try await Self.sql(env, """
                create schema supabase_migrations;
                create table supabase_migrations.schema_migrations (version text primary key, statements text[], name text);
                insert into supabase_migrations.schema_migrations values ('20240101000000', '{"create table legacy (id int)"}', 'legacy');
                """)
            let history = try await Self.call(env, "GET", base)
            let supabase = (history.body["migrations"] as? [[String: Any]] ?? []).first { $0["version"] as? String == "20240101000000" }
            #expect(supabase?["source"] as? String == "supabase")
            #expect(supabase?["name"] as? String == "legacy")
        }
    }
}
