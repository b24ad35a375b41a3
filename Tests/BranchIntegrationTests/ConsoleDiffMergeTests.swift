import BranchSystem
import BranchTesting
import Foundation
import Testing

/// The console's diff and merge pages end to end over HTTP (Tests/ConsoleClients/diff_http.py):
/// counts and +/− rows with only the changed cells marked, pagination, filters, escaping of hostile
/// values and table names, a breaking schema change flagged, applying rows and a table with undo, a merge with a conflict settled per
/// row and its undo (checked with psql), and a viewer who sees no write controls and is refused;
/// word diffs of text cells, values changed per column with a column filter, and a changed view's
/// definitions side by side.
@Suite("Console: diff and merge", .serialized)
struct ConsoleDiffMergeTests {
    static let setUp = """
        create table users(id int primary key, name text, email text, bio text);
        insert into users select i, 'user ' || i, 'u' || i || '@example.com', 'bio ' || i from generate_series(1, 200) i;
        create table items(id int primary key, qty int not null);
        insert into items select i, i from generate_series(1, 300) i;
        create table "<script>alert(1)</script>"(id int primary key, v text);
        insert into "<script>alert(1)</script>" values (1, 'a');
        create table tags(label text);
        insert into tags values ('red'), ('blue');
        create table legacy(id int);
        create table settings(id int primary key, doc jsonb);
        insert into settings values (1, '{"theme": "light"}');
        create table notes(id int primary key, title text, body text, stars int);
        insert into notes select i, 'note ' || i, 'the quick brown fox ' || i, i from generate_series(1, 10) i;
        create view note_titles as select id, title from notes;
        """

    static let featureChanges = """
        insert into users values (1001, '<script>alert("x")</script>', 'new@example.com', repeat('long ', 40));
        update users set email = 'changed@example.com' where id = 5;
        delete from users where id = 7;
        update items set qty = qty + 1000 where id <= 120;
        update "<script>alert(1)</script>" set v = 'b' where id = 1;
        insert into tags values ('green');
        drop table legacy;
        update settings set doc = '{"theme": "dark", "beta": true}' where id = 1;
        """

    /// Branch `wording`: word diffs, per-column counts and the column filter, a view's definitions.
    static let wordingChanges = """
        update notes set body = replace(body, 'quick', 'slow') where id <= 4;
        update notes set stars = stars + 1 where id <= 2;
        create or replace view note_titles as select id, title, stars from notes;
        """

    @Test("diff counts, rows, pages, filters, escaping, apply with undo, merge with a conflict and its undo, a viewer refused")
    func diffAndMerge() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            let main = try await env.linkedProject("shop")
            try await env.psql(main, Self.setUp)
            #expect(try await env.cli("create", "feat").succeeded)
            let feat = try await env.cli("url", "feat").output
            try await env.psql(feat, Self.featureChanges)
            // The target's own change to a row the source changed too: a conflict.
            try await env.psql(main, "update users set email = 'main@example.com' where id = 5")
            #expect(try await env.cli("create", "wording").succeeded)
            try await env.psql(try await env.cli("url", "wording").output, Self.wordingChanges)
            #expect(try await env.cli("snapshot", "create", "wording", "--name", "wording-then").succeeded)
            // The CLI prints the per-column counts after a table's rows.
            let counted = try await env.cli("diff", "main", "wording", "--summary", "--rows-of", "notes")
            #expect(counted.succeeded && counted.output.contains("public.notes values changed: body 4, stars 2 (of 4 changed rows)"), "\(counted.output)")
            let password = "viewer password 123"
            #expect(try await env.cli(["user", "create", "viewer@example.com"], input: password + "\n").succeeded)
            #expect(try await env.cli("member", "add", "viewer@example.com", "--role", "viewer", "--project", "shop").succeeded)

            let run = try await PythonScript.run(
                "Tests/ConsoleClients/diff_http.py", [env.url, env.token, "shop", main, "viewer@example.com", password], timeLimit: .seconds(600))
            #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")
        }
    }
}
