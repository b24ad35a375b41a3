import BranchSystem
import BranchTesting
import Foundation
import Testing

/// The console's observability, database, auth users, settings and account pages over HTTP
/// (Tests/ConsoleClients/settings_http.py, account_http.py and monitoring_http.py), after the CLI prepared a project
/// with a table, a foreign key and hostile names.
@Suite("Console: observability, database, users and settings", .serialized)
struct ConsoleSettingsTests {
    static func prepare(_ env: TestEnvironment) async throws -> String {
        let url = try await env.linkedProject("shop")
        try await env.psql(url, """
            create table customers (id bigint primary key, name text);
            create table items (id bigint primary key, title text not null, customer_id bigint references customers (id));
            insert into customers values (1, 'Ada');
            insert into items values (1, 'first', 1);
            create table "<script>alert(1)</script>" ("<script>alert(1)</script>" text);
            """)
        return url
    }

    @Test("keys rotated from the page, allowlist errors inline, a viewer member changes nothing, database and auth users pages")
    func settings() async throws {
        try await TestEnvironment.with { env in
            _ = try await Self.prepare(env)
            let run = try await PythonScript.run("Tests/ConsoleClients/settings_http.py", [env.url, env.token, "shop"], timeLimit: .seconds(240))
            #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")
            // What the pages saved is what the CLI reads.
            let shown = try await env.cli("project", "show", "shop", "--json")
            #expect(shown.succeeded, "\(shown.stderr)")
            let project = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
            #expect(project?["allowlist"] as? [String] == ["127.0.0.0/8", "::1/128"], "\(shown.stdout)")
            #expect(project?["suspendAfterSeconds"] as? Int == 600, "\(shown.stdout)")
            let members = try await env.cli("member", "list", "--project", "shop", "--json")
            #expect(members.stdout.contains("viewer@example.com"), "\(members.stdout)")
        }
    }

    @Test("your account: the password changed only with the current one, other sessions signed out, your own API tokens")
    func account() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.linkedProject("shop")
            let run = try await PythonScript.run("Tests/ConsoleClients/account_http.py", [env.url, env.token, "shop"], timeLimit: .seconds(180))
            #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")
        }
    }

    @Test("monitoring renders SVG charts, streams a sample within 10 s, and compares all branches on the same charts")
    func monitoring() async throws {
        try await TestEnvironment.with { env in
            let url = try await Self.prepare(env)
            #expect(try await env.cli("create", "second").succeeded)
            let run = try await PythonScript.run("Tests/ConsoleClients/monitoring_http.py", [env.url, env.token, "shop", url], timeLimit: .seconds(150))
            #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")
        }
    }
}
