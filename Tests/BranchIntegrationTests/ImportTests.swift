import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

/// `branch project import`: a project made from a Postgres started by the test, loaded with a
/// schema like a Supabase project's. The import must be exact, its users must sign in with their
/// old passwords, and bad sources must leave nothing behind.
@Suite("Import: a project from a running Postgres", .serialized)
struct ImportTests {
    typealias ImportReport = Components.Schemas.ImportReport

    /// Tables compared row for row (every column's text, ordered), source against project.
    static let tables = [
        "public.profiles", "public.todos", "public.invoices", "public.events", "public.todo_counts",
        "supabase_migrations.schema_migrations",
    ]

    @Test("a Supabase-like source comes over exactly; its users sign in with their old passwords")
    func importsASupabaseProject() async throws {
        try await ExternalPostgres.with { source in
            let url = try await Self.load(source)
            try await TestEnvironment.with { env in
                let run = try await env.cli("project", "import", "app", "--from", url, "--json")
                #expect(run.succeeded, "import failed: \(run.stderr)")
                let report = try JSONDecoder.api.decode(ImportReport.self, from: Data(run.output.utf8))
                #expect(report.supabase)
                #expect(report.authUsers == 5 && report.authIdentities == 5)
                #expect(report.migrations == 2)
                #expect(report.rolesCreated == ["reporting"])
                #expect(report.tables == 6, "profiles, todos, invoices, two event partitions and schema_migrations: \(report)")
                #expect(report.rows >= 3000 + 200 + 2000 + 5)
                #expect(report.notCarried.contains { $0.kind == "schema" && $0.name == "storage" && $0.reason.contains("not supported") })
                #expect(Set(report.extensions).isSuperset(of: ["pgcrypto", "uuid-ossp", "citext"]))
                #expect(!report.source.contains("read-only-secret"), "the report must not show the password")
                #expect(!report.notCarried.contains { $0.kind == "definition" }, "every definition restores: \(report.notCarried)")

                // Exact: every table's rows, and what the schema carries.
                let project = try await env.cli("url", "--project", "app").output
                for table in Self.tables {
                    let fingerprint = "select count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '') from \(table) t"
                    let expected = try #require(try await source.scalar(fingerprint))
                    #expect(try await env.psql(project, fingerprint) == expected, "\(table) differs")
                }
                let schemaFacts = """
                    select (select count(*) from pg_policies where schemaname = 'public') || ',' ||
                           obj_description('public.profiles'::regclass) || ',' ||
                           col_description('public.profiles'::regclass, 2) || ',' ||
                           (select count(*) from pg_indexes where schemaname = 'public') || ',' ||
                           (select count(*) from pg_constraint where connamespace = 'public'::regnamespace) || ',' ||
                           has_table_privilege('reporting', 'public.invoices', 'SELECT')
                    """
                let facts = (here: try await env.psql(project, schemaFacts), there: try await source.scalar(schemaFacts))
                #expect(facts.here == facts.there, "policies, comments, indexes, constraints, grants: \(facts)")
                // Sequences and identities continue where the source was.
                #expect(try await env.psql(project, "select nextval('public.invoice_numbers')") == "1200")
                #expect(try await env.psql(project, "select count(*) from pg_trigger where tgname = 'on_auth_user_created'") == "1")
                let history = try await env.cli("migrate", "list", "--project", "app")
                #expect(history.output.contains("20240102000000"), "\(history.output)")

                // The users sign in through the data API with their old bcrypt passwords.
                let keys = try await env.json(ImportedKeys.self, "keys", "--project", "app")
                let signIn = try await PythonScript.run(
                    "Tests/ImportClients/imported_sign_in.py", environment: ["SUPABASE_URL": keys.url, "SUPABASE_ANON_KEY": keys.anonKey])
                #expect(signIn.status == 0, "imported_sign_in.py: \(signIn.stdout)\n\(signIn.stderr)")
                #expect(try await env.psql(project, "select full_name from public.profiles where full_name = 'Newcomer'") == "Newcomer")
            }
        }
    }

    @Test("bad sources get a clear error and leave no project behind")
    func badSourcesLeaveNothing() async throws {
        try await ExternalPostgres.with { source in
            let url = try await Self.load(source)
            try await source.execute("""
                create role partial login password 'partial-secret';
                grant usage on schema public to partial;
                grant select on public.todos to partial;
                create role filtered login password 'filtered-secret' in role pg_read_all_data;
                """)
            try await TestEnvironment.with { env in
                let unused = try TestEnvironment.freePort()
                let cases: [(String, String)] = [
                    (source.url(user: "importer", password: "wrong"), "external_database_auth_failed"),
                    (source.url(user: "importer", password: "read-only-secret", port: unused), "external_database_unreachable"),
                    (source.url(user: "partial", password: "partial-secret"), "external_database_permission_denied"),
                    // Reads everything, but through RLS (no BYPASSRLS): the todos would come over filtered.
                    (source.url(user: "filtered", password: "filtered-secret"), "external_database_permission_denied"),
                    ("postgres://importer:read-only-secret@%2Fvar%2Frun%2Fpostgresql/source", "invalid_database_url"),
                    ("mysql://importer@127.0.0.1/source", "invalid_database_url"),
                    (url.replacingOccurrences(of: "/source", with: "/missing"), "external_database_auth_failed"),
                ]
                for (from, code) in cases {
                    let refused = try await env.failure("project", "import", "copy", "--from", from, "--json")
                    #expect(refused.output.contains("\"\(code)\"") || refused.stderr.contains("\"\(code)\""), "\(from): \(refused.output) \(refused.stderr)")
                }
                let failed = try await env.failure("project", "import", "copy", "--from", source.url(user: "importer", password: "wrong"))
                #expect(!failed.stderr.contains("wrong"), "errors must not echo the password: \(failed.stderr)")
                #expect(try await env.json(ProjectList.self, "project", "list").projects.isEmpty)
                #expect(!FileManager.default.fileExists(atPath: "\(env.pool)/projects/copy"))
                #expect(try await env.subvolumes("projects").isEmpty)
            }
        }
    }

    @Test("an extension this server lacks is reported with what used it; the rest comes over")
    func extensionNotHere() async throws {
        let script = "CREATE FUNCTION source_only_double(int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 2';\n"
        try await ExternalPostgres.with(onlyHere: ("branch_source_only", script)) { source in
            try await source.execute("""
                create extension branch_source_only;
                create table public.t (id int primary key);
                insert into public.t select generate_series(1, 10);
                create view public.doubled as select public.source_only_double(id) as d from public.t;
                """)
            try await TestEnvironment.with { env in
                let run = try await env.cli("project", "import", "app", "--from", source.url(), "--json")
                #expect(run.succeeded, "\(run.stderr)")
                let report = try JSONDecoder.api.decode(ImportReport.self, from: Data(run.output.utf8))
                #expect(report.notCarried.contains { $0.kind == "extension" && $0.name == "branch_source_only" && $0.reason.contains("not installed") },
                        "\(report.notCarried)")
                #expect(report.notCarried.contains { $0.kind == "definition" && $0.name == "CREATE VIEW public.doubled" && $0.reason.contains("source_only_double") },
                        "\(report.notCarried)")
                let project = try await env.cli("url", "--project", "app").output
                #expect(try await env.psql(project, "select count(*) from public.t") == "10")
            }
        }
    }

    @Test("a kill during the import leaves no project; the import then succeeds")
    func killMidImport() async throws {
        try await ExternalPostgres.with { source in
            let url = try await Self.load(source)
            try await TestEnvironment.with { env in
                await env.stopService()
                try await env.startService(environment: ["BRANCH_CRASH_AT": "project.create.after-populate"])
                let interrupted = try await env.cli("project", "import", "app", "--from", url)
                #expect(!interrupted.succeeded)
                #expect(await env.waitForServiceExit().map(Int.init) == 137)
                try await env.startService()
                #expect(try await env.json(ProjectList.self, "project", "list").projects.isEmpty)
                #expect(!FileManager.default.fileExists(atPath: "\(env.pool)/projects/app"))
                let again = try await env.cli("project", "import", "app", "--from", url, "--json")
                #expect(again.succeeded, "\(again.stderr)")
            }
        }
    }

    struct ImportedKeys: Decodable {
        let url: String
        let anonKey: String
    }

    /// Loads the Supabase-like fixture as the superuser and answers a URL of a read-only user.
    static func load(_ source: ExternalPostgres) async throws -> String {
        let fixture = try String(contentsOfFile: "\(PythonScript.repository)/Tests/ImportClients/supabase_source.sql", encoding: .utf8)
        try await source.execute(fixture)
        try await source.execute("create role importer login bypassrls password 'read-only-secret' in role pg_read_all_data")
        return source.url(user: "importer", password: "read-only-secret")
    }
}
