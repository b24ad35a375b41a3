import BranchAPI
import BranchSystem
import BranchTesting
import Foundation
import Testing

/// The data API as the engine serves it: which branch a URL reaches, a schema cache that follows
/// DDL, pools that survive restores and wake suspended branches, and requests that never wait on
/// each other. (The protocols themselves are tested with the real Supabase client in DataAPITests.)
@Suite("Data API: branches, schema cache and pools", .serialized)
struct DataAPIEngineTests {
    /// What `branch keys --json` prints.
    struct KeysOutput: Decodable {
        var url: String
        var anonKey: String
        var serviceRoleKey: String
    }

    struct Reply {
        var status: Int
        var body: String
    }

    /// A data API request with the project's anon key.
    static func get(_ env: TestEnvironment, _ path: String, key: String) async throws -> Reply {
        let result = try await Command.run("curl", ["-sS", "-w", "\n%{http_code}", "-H", "apikey: \(key)", env.url + path])
        var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.removeLast()) ?? 0
        return Reply(status: status, body: lines.joined(separator: "\n"))
    }

    @Test("/p/{project} follows checkout, /b/{branch} is one branch; new tables answer at once; a restore in place and a suspended branch need no retry")
    func followsBranches() async throws {
        try await TestEnvironment.with { env in
            let created = try await env.json(ProjectCreated.self, "project", "create", "app", "--suspend-after", "3s")
            _ = try await env.cli("link", "app")
            let main = created.connection.url
            let key = try await env.json(KeysOutput.self, "keys").anonKey
            try await env.psql(main, "create table notes(id int primary key, body text); insert into notes values (1, 'on main')")
            let onMain = try await Self.get(env, "/p/app/rest/v1/notes?select=body", key: key)
            #expect(onMain.status == 200)
            #expect(onMain.body == #"[{"body":"on main"}]"#)

            // A branch has its own URL; checkout moves the project's.
            _ = try await env.json(BranchResult.self, "create", "feat")
            try await env.psql(try await env.cli("url", "feat").output, "insert into notes values (2, 'on feat')")
            #expect(try await Self.get(env, "/p/app/b/feat/rest/v1/notes?select=id&order=id", key: key).body == #"[{"id":1}, "# + "\n " + #"{"id":2}]"#)
            #expect(try await Self.get(env, "/p/app/rest/v1/notes?select=id", key: key).body == #"[{"id":1}]"#)
            _ = try await env.cli("checkout", "feat")
            #expect(try await Self.get(env, "/p/app/rest/v1/notes?select=id&id=eq.2", key: key).body == #"[{"id":2}]"#)
            _ = try await env.cli("checkout", "main")

            // DDL made outside the API is visible on the next request.
            try await env.psql(main, "create table tags(name text primary key)")
            #expect(try await Self.get(env, "/p/app/b/main/rest/v1/tags", key: key).body == "[]")
            try await env.psql(main, "alter table tags add column color text; insert into tags values ('x', 'red')")
            #expect(try await Self.get(env, "/p/app/b/main/rest/v1/tags?select=color", key: key).body == #"[{"color":"red"}]"#)
            // The same request before and after DDL (its statement is prepared on the pooled connection).
            #expect(try await Self.get(env, "/p/app/b/main/rest/v1/tags", key: key).body == #"[{"name":"x","color":"red"}]"#)
            try await env.psql(main, "alter table tags add column size int default 3")
            #expect(try await Self.get(env, "/p/app/b/main/rest/v1/tags", key: key).body == #"[{"name":"x","color":"red","size":3}]"#)

            // An in-place restore replaces main's server: the pool reconnects, the cache reloads.
            _ = try await env.json(SnapshotResult.self, "snapshot", "create", "--name", "before")
            try await env.psql(main, "drop table tags; insert into notes values (3, 'after the snapshot')")
            #expect(try await Self.get(env, "/p/app/rest/v1/tags", key: key).status == 404)
            _ = try await env.json(BranchResult.self, "restore", "before", "--in-place")
            let afterRestore = try await Self.get(env, "/p/app/rest/v1/tags?select=name", key: key)
            #expect(afterRestore.status == 200, "\(afterRestore.body)")
            #expect(afterRestore.body == #"[{"name":"x"}]"#)
            #expect(try await Self.get(env, "/p/app/rest/v1/notes?id=eq.3", key: key).body == "[]")

            // A suspended branch wakes for a data API request.
            let feat = { try await env.json(BranchList.self, "list").branches.first { $0.name == "feat" }?.status }
            #expect(try await RuntimeTests.eventually(30) { try await feat() == "suspended" })
            let woken = try await Self.get(env, "/p/app/b/feat/rest/v1/notes?select=id&id=eq.2", key: key)
            #expect(woken.status == 200)
            #expect(woken.body == #"[{"id":2}]"#)
            #expect(try await feat() == "running")

            // Unknown project and branch: PostgREST-shaped errors.
            let noProject = try await Self.get(env, "/p/nope/rest/v1/notes", key: key)
            #expect(noProject.status == 404)
            #expect(noProject.body.contains(#""code":"project_not_found""#))
            #expect(try await Self.get(env, "/p/app/b/nope/rest/v1/notes", key: key).status == 404)
        }
    }

    @Test("a slow function call in flight delays no other request")
    func slowCallsDoNotBlock() async throws {
        try await TestEnvironment.with { env in
            let main = try await env.linkedProject()
            let key = try await env.json(KeysOutput.self, "keys").anonKey
            try await env.psql(main, """
                create table items(id int primary key); insert into items values (1);
                create function slow() returns int language sql as 'select pg_sleep(5); select 1';
                """)
            #expect(try await Self.get(env, "/p/app/rest/v1/items", key: key).status == 200)
            async let slow = Command.run("curl", [
                "-sS", "-X", "POST", "-H", "apikey: \(key)", "-H", "Content-Type: application/json", "-d", "{}", env.url + "/p/app/rest/v1/rpc/slow",
            ])
            try await Task.sleep(for: .milliseconds(500))
            for _ in 0..<3 {
                let watch = Date()
                let reply = try await Self.get(env, "/p/app/rest/v1/items?select=id", key: key)
                let elapsed = Date().timeIntervalSince(watch)
                #expect(reply.body == #"[{"id":1}]"#)
                #expect(elapsed < 1, "answered in \(elapsed) s while pg_sleep(5) runs")
            }
            #expect(try await slow.stdout == "1")
        }
    }

    @Test("a database made before the data API gets its roles, auth schema and helpers when the service starts")
    func bootstrapAtStart() async throws {
        try await TestEnvironment.with { env in
            let main = try await env.linkedProject()
            let port = try #require(try await env.json(BranchList.self, "list").branches.first { $0.name == "main" }).port
            let superuser = "host=\(env.pool)/run/pg/\(port) port=\(port) user=postgres dbname=app"
            try await env.psql(main, "create table t(id int primary key); insert into t values (7)")
            try await env.psql(superuser, "drop schema _branch cascade; drop schema auth cascade")
            #expect(try await env.psql(superuser, "select to_regnamespace('auth') is null and to_regnamespace('_branch') is null") == "t")

            _ = await env.stopService()
            try await env.startService()
            #expect(try await env.psql(superuser, """
                select to_regprocedure('auth.uid()') is not null and to_regclass('auth.users') is not null
                   and to_regclass('_branch.schema_version') is not null
                """) == "t")
            let key = try await env.json(KeysOutput.self, "keys").anonKey
            #expect(try await Self.get(env, "/p/app/rest/v1/t", key: key).body == #"[{"id":7}]"#)
        }
    }
}
