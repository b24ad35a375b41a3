import BranchAPI
import BranchSystem
import BranchTesting
import Foundation
import Testing

/// `querySQL` (POST …/branches/{branch}/query): a viewer reads with SQL, in a read-only
/// transaction that is rolled back. Writes fail with Postgres' own error, the transaction cannot
/// be ended or switched to read-write, and the owner role it runs as cannot reach the server's files.
@Suite("Read-only SQL for viewers: reads work, writes, escapes and file access do not", .serialized)
struct ReadOnlyQueryTests {
    typealias Answer = AgentSQLTests.Answer

    static func query(_ env: TestEnvironment, _ sql: String, token: String, branch: String = "main", extra: [String: Any] = [:]) async throws -> Answer {
        try await AgentSQLTests.call(env, "POST", "/api/v1/projects/app/branches/\(branch)/query", ["query": sql].merging(extra) { $1 }, key: token)
    }

    static func rows(_ answer: Answer) -> [[Any]] { answer.results.last?["rows"] as? [[Any]] ?? [] }

    @Test("a viewer token can SELECT, cannot INSERT, UPDATE or DDL, cannot escape with COMMIT or SET TRANSACTION, cannot read files")
    func viewerQueries() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            let setup = try await AgentSQLTests.sql(env, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'one'), (2, 'two')")
            #expect(setup.status == 200, "\(setup.body)")
            let password = try await AccessTests.createUser(env, "carol@example.com")
            let added = try await env.cli("member", "add", "carol@example.com", "--project", "app", "--role", "viewer")
            #expect(added.succeeded, "\(added.stderr)")
            let viewer = try await AccessTests.login(env, "carol@example.com", password)

            // runSQL stays the developer's; querySQL answers the viewer with runSQL's shape.
            let refused = try await AgentSQLTests.sql(env, "SELECT 1", key: viewer)
            #expect(refused.status == 403 && refused.code == "forbidden", "\(refused.status) \(refused.body)")
            let read = try await Self.query(env, "SELECT id, v FROM t ORDER BY id; SELECT $$x$$ AS y", token: viewer)
            #expect(read.status == 200, "\(read.body)")
            #expect(read.results.count == 2 && (read.results.first?["rows"] as? [[Any]])?.count == 2, "\(read.body)")
            #expect((read.results.first?["columns"] as? [[String: Any]])?.map { $0["type"] as? String } == ["int4", "text"], "\(read.body)")
            let parameters = try await Self.query(env, "SELECT v FROM t WHERE id = $1", token: viewer, extra: ["params": [2]])
            #expect((parameters.results.first?["rows"] as? [[Any]])?.first?.first as? String == "two", "\(parameters.body)")

            // Writes fail with Postgres' own read-only error (SQLSTATE 25006), as a statement failure.
            for write in ["INSERT INTO t VALUES (3, 'three')", "UPDATE t SET v = 'x'", "DELETE FROM t", "CREATE TABLE u (id int)",
                          "ALTER TABLE t ADD COLUMN w int", "DROP TABLE t", "SELECT 1; TRUNCATE t", "SELECT * FROM t FOR UPDATE"] {
                let answer = try await Self.query(env, write, token: viewer)
                #expect(answer.status == 422 && answer.code == "sql_failed", "\(write): \(answer.status) \(answer.body)")
                #expect(answer.error["sqlstate"] as? String == "25006", "\(write): \(answer.body)")
                #expect((answer.error["message"] as? String)?.contains("read-only transaction") == true, "\(write): \(answer.body)")
            }

            // Statements that end the transaction or change its mode are refused before anything runs.
            for escape in ["COMMIT; INSERT INTO t VALUES (4, 'four')", "ROLLBACK; DELETE FROM t", "END; DELETE FROM t",
                           "BEGIN; DELETE FROM t", "SET TRANSACTION READ WRITE; DELETE FROM t",
                           "set session characteristics as transaction read write", "RESET ALL",
                           "SET default_transaction_read_only = off", "SET LOCAL transaction_read_only = off; DELETE FROM t",
                           "/* hidden */ commit; DELETE FROM t", "PREPARE TRANSACTION 'x'"] {
                let answer = try await Self.query(env, escape, token: viewer)
                #expect(answer.status == 400 && answer.code == "invalid_request", "\(escape): \(answer.status) \(answer.body)")
            }
            // Spellings the check does not see still fail: the transaction's snapshot is taken before the SQL runs,
            // and Postgres then refuses to make it read-write; procedures cannot commit inside it.
            for escape in ["SET \"transaction_read_only\" = off; DELETE FROM t",
                           "SELECT set_config('transaction_read_only', 'off', true); DELETE FROM t",
                           "SELECT set_config('default_transaction_read_only', 'off', false); DELETE FROM t",
                           "DO $$ BEGIN COMMIT; END $$; DELETE FROM t"] {
                let answer = try await Self.query(env, escape, token: viewer)
                #expect(answer.status == 422 && answer.code == "sql_failed", "\(escape): \(answer.status) \(answer.body)")
            }

            // The owner role it runs as is not a superuser: no server files, no programs.
            for file in ["SELECT pg_read_file('/etc/passwd')", "COPY t TO PROGRAM 'id'", "COPY (SELECT 1) TO '/tmp/branch-read-only-test'",
                         "SELECT lo_import('/etc/passwd')", "CREATE EXTENSION dblink", "SELECT pg_ls_dir('.')"] {
                let answer = try await Self.query(env, file, token: viewer)
                #expect(answer.status == 422 && answer.code == "sql_failed", "\(file): \(answer.status) \(answer.body)")
            }
            #expect(!FileManager.default.fileExists(atPath: "/tmp/branch-read-only-test"))

            // runSQL's statement timeout applies.
            let slow = try await Self.query(env, "SELECT pg_sleep(5)", token: viewer, extra: ["timeoutMs": 200])
            #expect(slow.status == 422 && slow.error["sqlstate"] as? String == "57014", "\(slow.body)")

            // Nothing changed.
            let after = try await AgentSQLTests.sql(env, "SELECT string_agg(id || ':' || v, ',' ORDER BY id), to_regclass('u') IS NULL FROM t")
            #expect((after.results.first?["rows"] as? [[Any]])?.first?.first as? String == "1:one,2:two", "\(after.body)")
            #expect((after.results.first?["rows"] as? [[Any]])?.first?.last as? Bool == true, "\(after.body)")

            // `branch sql --read-only` goes through querySQL, so a viewer may use it.
            let cliRead = try await env.cli(["sql", "--read-only", "SELECT count(*) AS n FROM t", "--project", "app"], environment: ["BRANCH_TOKEN": viewer])
            #expect(cliRead.succeeded && cliRead.stdout.contains("2"), "\(cliRead.stdout) \(cliRead.stderr)")
            let cliWrite = try await env.cli(["sql", "--read-only", "DELETE FROM t", "--project", "app"], environment: ["BRANCH_TOKEN": viewer])
            #expect(!cliWrite.succeeded && cliWrite.stderr.contains("read-only transaction"), "\(cliWrite.stdout) \(cliWrite.stderr)")
            let cliPlain = try await env.cli(["sql", "DELETE FROM t", "--project", "app"], environment: ["BRANCH_TOKEN": viewer])
            #expect(!cliPlain.succeeded, "\(cliPlain.stdout) \(cliPlain.stderr)")
        }
    }

    @Test("a viewer's SQL runs as the reader role: it cannot signal the app's sessions, reads what the owner reads and no more, also on a branch of the origin snapshot")
    func readerRole() async throws {
        try await TestEnvironment.with { env in
            try await env.linkedProject()
            let setup = try await AgentSQLTests.sql(env, """
                CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'one'), (2, 'two');
                CREATE TABLE secret (id int); INSERT INTO secret VALUES (7); ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
                """)
            #expect(setup.status == 200, "\(setup.body)")
            let owner = try #require(try await AgentSQLTests.scalar(env, "SELECT current_user") as? String)
            let password = try await AccessTests.createUser(env, "carol@example.com")
            let added = try await env.cli("member", "add", "carol@example.com", "--project", "app", "--role", "viewer")
            #expect(added.succeeded, "\(added.stderr)")
            let viewer = try await AccessTests.login(env, "carol@example.com", password)

            // Its own login role, not the owner's and no member of it.
            let who = try await Self.query(env, "SELECT current_user, session_user, pg_has_role(current_user, \(Self.literal(owner)), 'MEMBER')", token: viewer)
            #expect(Self.rows(who).first?.compactMap { $0 as? String } == ["branch_reader", "branch_reader"], "\(who.body)")
            #expect(Self.rows(who).first?.last as? Bool == false, "\(who.body)")

            // The app's session: an owner backend busy for a few seconds while the viewer tries to end it.
            let app = Task {
                let answer = try await AgentSQLTests.sql(env, "SELECT pg_sleep(6), 'survived' AS app")
                return (answer.status, Self.rows(answer).first?.last as? String, "\(answer.body)")
            }
            var seen = 0, attempts = 0
            while seen == 0 && attempts < 40 {
                let count = try await Self.query(env, "SELECT count(*) FROM pg_stat_activity WHERE usename = \(Self.literal(owner))", token: viewer)
                seen = (Self.rows(count).first?.first as? Int) ?? 0
                attempts += 1
                if seen == 0 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(seen > 0, "the viewer sees the app's backend in pg_stat_activity")
            // (Also sparing its own backend: as the owner, the first form would end itself before the app's.)
            for signal in ["pg_terminate_backend", "pg_cancel_backend"] {
                for others in ["", " AND pid <> pg_backend_pid()"] {
                    let sql = "SELECT \(signal)(pid) FROM pg_stat_activity WHERE usename = \(Self.literal(owner))\(others)"
                    let answer = try await Self.query(env, sql, token: viewer)
                    #expect(answer.status == 422 && answer.error["sqlstate"] as? String == "42501", "\(sql): \(answer.status) \(answer.body)")
                }
            }
            let (status, survived, body) = try await app.value
            #expect(status == 200 && survived == "survived", "\(status) \(body)")

            // What the owner reads, the viewer reads: its tables (all rows, as the owner sees them under row level
            // security), and a table made after the viewer's first query. Not what the owner may not read.
            let read = try await Self.query(env, "SELECT string_agg(v, ',' ORDER BY id) FROM t; SELECT count(*) FROM secret", token: viewer)
            #expect(read.status == 200, "\(read.body)")
            #expect((read.results.first?["rows"] as? [[Any]])?.first?.first as? String == "one,two", "\(read.body)")
            #expect(Self.rows(read).first?.first as? Int == 1, "\(read.body)")
            #expect(try await AgentSQLTests.sql(env, "CREATE TABLE later (id int); INSERT INTO later VALUES (3)").status == 200)
            let later = try await Self.query(env, "SELECT id FROM later", token: viewer)
            #expect(Self.rows(later).first?.first as? Int == 3, "\(later.body)")
            let ownerRefused = try await AgentSQLTests.sql(env, "SELECT count(*) FROM auth.users")
            let refused = try await Self.query(env, "SELECT count(*) FROM auth.users", token: viewer)
            #expect(ownerRefused.status == 422 && refused.status == 422 && refused.error["sqlstate"] as? String == "42501", "\(refused.body)")

            // A branch of the origin snapshot predates the reader role; the viewer's SQL works there too.
            let snapshots = try await env.json(SnapshotList.self, "snapshot", "list").snapshots
            let origin = try #require(snapshots.filter { $0.kind == "automatic" && $0.sourceBranch == "main" }.min { $0.createdAt < $1.createdAt })
            _ = try await env.json(BranchResult.self, "create", "early", "--snapshot", origin.id)
            let early = try await Self.query(env, "SELECT current_user, count(*) FROM pg_tables WHERE tablename = 't'", token: viewer, branch: "early")
            #expect(early.status == 200 && Self.rows(early).first?.first as? String == "branch_reader", "\(early.body)")
            #expect(Self.rows(early).first?.last as? Int == 0, "\(early.body)")

            // A branch of main now carries the role with main's grants, and works as well.
            _ = try await env.json(BranchResult.self, "create", "copy")
            let copy = try await Self.query(env, "SELECT count(*) FROM t", token: viewer, branch: "copy")
            #expect(Self.rows(copy).first?.first as? Int == 2, "\(copy.body)")
        }
    }

    static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
}
