import BranchSystem
import BranchTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The console in a real browser (Tests/ConsoleClients/browser_journeys.py: headless Chromium via
/// Selenium, axe-core): the issue's ten journeys, the keyboard paths, axe on every page in both
/// themes, markup in data that never runs, and a viewer who can change nothing.
/// BRANCH_SCREENSHOTS=DIR also saves every page, dark and light, as DIR/<page>-<theme>.png.
@Suite("Console in a real browser", .serialized)
struct ConsoleBrowserTests {
    static let viewer = "viewer@example.com"
    static let viewerPassword = "viewer sees everything"

    @Test("sign in, projects, branches, edits, diffs, merges, restores, SQL, backups, keys and a viewer, in Chromium")
    func journeys() async throws {
        try await TestEnvironment.with(backups: true) { env in
            let url = try await env.linkedProject("app")
            // Row 1 is what the journeys edit; the others carry markup that must never run.
            try await env.psql(url, """
                create table items (id serial primary key, name text not null, note text);
                insert into items (name, note) values
                  ('widget', 'plain'),
                  ('<script>window.__xss=1</script>', '<img src=x onerror="window.__xss=1">'),
                  ('gadget', '<svg onload="window.__xss=1">');
                create type mood as enum ('happy', 'sad');
                create table orders (id int primary key, item int references items (id), paid boolean not null default false,
                  due date, meta jsonb, mood mood);
                insert into orders values (1, 1, false, '2026-01-15', '{"a": 1}', 'happy');
                """)
            // A snapshot and a finished backup for the timeline and backups pages (the CLI waits for the backup).
            for arguments in [["snapshot", "create", "--name", "seeded"], ["backup", "create"]] {
                let result = try await env.cli(arguments)
                #expect(result.succeeded, "branch \(arguments.joined(separator: " ")): \(result.stderr)")
            }
            let user = try await env.cli(["user", "create", Self.viewer], input: Self.viewerPassword + "\n")
            #expect(user.succeeded, "branch user create: \(user.stderr)")
            let member = try await env.cli("member", "add", Self.viewer, "--role", "viewer", "--project", "app")
            #expect(member.succeeded, "branch member add: \(member.stderr)")

            let profile = "\(env.root)/chromium-profile"
            var environment = ["BRANCH_BROWSER_PROFILE": profile]
            if let screenshots = ProcessInfo.processInfo.environment["BRANCH_SCREENSHOTS"], !screenshots.isEmpty {
                environment["BRANCH_SCREENSHOTS"] = screenshots
            }
            let run = try await PythonScript.run(
                "Tests/ConsoleClients/browser_journeys.py", [env.url, env.token, "app", Self.viewer, Self.viewerPassword],
                // A guard against a hang, not a speed check: the journeys take 160 to 220 s here.
                environment: environment, timeLimit: .seconds(600))
            // The script quits Chromium itself; should it have been killed, its browser goes here.
            let leftovers = Self.processes(mentioning: profile)
            for pid in leftovers { kill(pid, SIGKILL) }
            #expect(leftovers.isEmpty, "Chromium processes outlived the journeys: \(leftovers)")
            #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")
        }
    }

    /// Processes whose command line mentions `text` (this run's Chromium profile directory).
    static func processes(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), pid != getpid(),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty
            else { return nil }
            let command = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return command.contains(text) ? pid : nil
        }
    }
}
