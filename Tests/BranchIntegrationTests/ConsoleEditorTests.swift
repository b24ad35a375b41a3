import BranchSystem
import BranchTesting
import Foundation
import Testing

/// The table and SQL editors over plain HTTP (Tests/ConsoleClients/tables_http.py and
/// sql_http.py): keyset pages, sort and filter in the URL, edit batches in one transaction, CSV
/// out and in, SQL results with types, error positions, guards, snippets and history, runs on a
/// scratch branch, past-instant queries, escaping, and viewers kept read-only. The scripts check
/// the data through the API with the admin key.
@Suite("Console: table and SQL editors", .serialized)
struct ConsoleEditorTests {
    @Test("table editor: pages, sort, filter, edits, CSV, viewer")
    func tableEditor() async throws {
        try await TestEnvironment.with { env in
            let run = try await PythonScript.run("Tests/ConsoleClients/tables_http.py", [env.url, env.token], timeLimit: .seconds(300))
            #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")
            // After the script, checked with psql: the saved batch, the row form's delete and the import are there.
            let url = try await env.cli("url", "main", "--project", "shop").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let rows = try await env.psql(url, "SELECT string_agg(id::text, ',' ORDER BY id) FROM items WHERE id IN (1, 2, 500, 900, 901)")
            #expect(rows == "500,900,901", "\(rows)")
        }
    }

    @Test("SQL editor: results, errors, guards, snippets, scratch branch, past instant, viewer")
    func sqlEditor() async throws {
        try await TestEnvironment.with { env in
            let run = try await PythonScript.run("Tests/ConsoleClients/sql_http.py", [env.url, env.token], timeLimit: .seconds(300))
            #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")
            // After the script: main has exactly what "Apply" ran, checked with psql.
            let url = try await env.cli("url", "main", "--project", "lab").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let rows = try await env.psql(url, "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM t")
            #expect(rows.contains("1:110,2:20,4:40"), "\(rows)")

            // The same snippets from the terminal: saved by the CLI, listed by the API the editor reads, run, deleted.
            let saved = try await env.cli("snippet", "save", "count t", "SELECT count(*) AS n FROM t", "--folder", "CLI", "--project", "lab")
            #expect(saved.succeeded, "\(saved.stderr)")
            let listed = try await env.cli("snippet", "list", "--project", "lab", "--json")
            #expect(listed.stdout.contains("\"count t\"") && listed.stdout.contains("\"CLI\""), "\(listed.stdout)")
            #expect(try await env.cli("snippet", "show", "count t", "--project", "lab").stdout == "SELECT count(*) AS n FROM t\n")
            let replaced = try await env.cli("snippet", "save", "count t", "SELECT count(*) AS n FROM t WHERE id > 1", "--project", "lab")
            #expect(replaced.stdout.contains("Replaced"), "\(replaced.stdout)")
            let ran = try await env.cli("snippet", "run", "count t", "--read-only", "--project", "lab", "--json")
            #expect(ran.succeeded && ran.stdout.contains("\"n\""), "\(ran.stdout)\(ran.stderr)")
            #expect(try await env.cli("snippet", "delete", "count t", "--project", "lab").succeeded)
            #expect(try await env.errorCode("snippet", "show", "count t", "--project", "lab") == "snippet_not_found")
        }
    }
}
