import BranchSystem
import BranchTesting
import Foundation
import Testing

/// The console's "Import a database" end to end over HTTP (Tests/ConsoleClients/import_http.py)
/// against a real source cluster: the dashboard's form, refusals said inline without the password,
/// the job page followed to the report, a mirror import and the overview's Mirror card (following,
/// then listing a schema change it could not apply, with its SQL).
@Suite("Console: import a database", .serialized)
struct ConsoleImportTests {
    @Test("import through the console: the form, its refusals, the job page, the report, a mirror's card")
    func importThroughTheConsole() async throws {
        try await ExternalPostgres.with { source in
            try await source.execute("""
                create table public.items (id bigint primary key, name text not null);
                insert into public.items select i, 'item ' || i from generate_series(1, 300) i;
                create table public.orders (id int primary key, item bigint references public.items);
                insert into public.orders select i, i from generate_series(1, 40) i;
                create function public.noop_event() returns event_trigger language plpgsql as $$ begin end $$;
                create event trigger "<script>alert(1)</script>" on ddl_command_end execute function public.noop_event();
                """)
            try await TestEnvironment.with(poolSize: "2G") { env in
                let password = "other password 123"
                #expect(try await env.cli(["user", "create", "other@example.com"], input: password + "\n").succeeded)

                let run = try await PythonScript.run(
                    "Tests/ConsoleClients/import_http.py", [env.url, env.token, source.url(), "other@example.com", password], timeLimit: .seconds(600))
                #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")

                // What the console imported is what the CLI sees: the project, with the rows.
                let shop = try await Self.mainURL(env, project: "shop")
                #expect(try await env.psql(shop, "select count(*) from public.items") == "300")
                #expect(try await env.psql(shop, "select count(*) from public.orders") == "40")
                // The mirror follows: a row written at the source arrives in its main.
                try await source.execute("insert into public.items values (301, 'late')")
                let mirror = try await Self.mainURL(env, project: "shopmirror")
                var arrived = false
                for _ in 0..<60 where !arrived {
                    arrived = try await env.psql(mirror, "select count(*) from public.items") == "301"
                    if !arrived { try await Task.sleep(for: .seconds(1)) }
                }
                #expect(arrived, "the mirror's main got the source's new row")

                // A type change main's cast cannot follow ('item 1'::integer fails): the card lists it with its SQL.
                try await source.execute("alter table public.items alter column name type integer using length(name)")
                let pending = try await PythonScript.run(
                    "Tests/ConsoleClients/import_http.py", [env.url, env.token, source.url(), "other@example.com", password, "pending"],
                    timeLimit: .seconds(300))
                #expect(pending.succeeded, "\(pending.stdout)\n\(pending.stderr)")
            }
        }
    }

    /// The URL of `project`'s main (`branch url` may print a notice around it).
    static func mainURL(_ env: TestEnvironment, project: String) async throws -> String {
        let printed = try await env.cli("url", "--project", project)
        guard let url = printed.stdout.split(whereSeparator: \.isWhitespace).first(where: { $0.hasPrefix("postgres") }) else {
            throw TestFailure("`branch url --project \(project)` printed no URL: \(printed.stdout)\n\(printed.stderr)")
        }
        return String(url)
    }
}
