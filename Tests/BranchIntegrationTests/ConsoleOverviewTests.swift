import BranchSystem
import BranchTesting
import Foundation
import Testing

/// The console's overview, branches and timeline pages end to end over HTTP
/// (Tests/ConsoleClients/overview_http.py and timeline_http.py): connection strings, creating a
/// branch from the branches page and at an instant from the timeline, a lane per branch and a dot
/// per snapshot, a viewer who sees no write forms and is refused, hostile text escaped.
@Suite("Console: overview, branches and timeline", .serialized)
struct ConsoleOverviewTests {
    @Test("overview and branches: connection strings, create, detail actions, a viewer refused")
    func overviewAndBranches() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            let main = try await env.linkedProject("shop")
            try await env.psql(main, "create table items(id int primary key, name text); insert into items values (1, 'one')")
            #expect(try await env.cli("create", "feature").succeeded)
            #expect(try await env.cli("snapshot", "create", "main", "--name", "before-change").succeeded)
            let password = "viewer password 123"
            #expect(try await env.cli(["user", "create", "viewer@example.com"], input: password + "\n").succeeded)
            #expect(try await env.cli("member", "add", "viewer@example.com", "--role", "viewer", "--project", "shop").succeeded)

            let run = try await PythonScript.run(
                "Tests/ConsoleClients/overview_http.py", [env.url, env.token, "shop", "viewer@example.com", password], timeLimit: .seconds(300))
            #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")

            // What the pages did is what the CLI sees.
            let list = try await env.cli("list", "--json")
            let names = try Self.branchNames(list.stdout)
            #expect(names.contains("from-web"), "\(list.stdout)")
            #expect(names.contains("from-snapshot"), "\(list.stdout)")
            #expect(!names.contains("doomed"), "\(list.stdout)")
            #expect(names.contains("feature"), "\(list.stdout)")
        }
    }

    @Test("timeline: a lane per branch, a dot per snapshot, backups, branch at an instant, two-point diff, a viewer refused")
    func timeline() async throws {
        try await TestEnvironment.with(poolSize: "2G", backups: true) { env in
            try await env.linkedProject("shop")
            let main = try await Self.url(env, "main")
            try await env.psql(main, "create table items(id int primary key, name text); insert into items values (1, 'one')")
            #expect(try await env.cli("snapshot", "create", "main", "--name", "checkpoint-a").succeeded)
            #expect(try await env.cli("create", "feature").succeeded)
            #expect(try await env.cli("snapshot", "create", "feature").succeeded)
            let backup = try await env.cli("backup", "create", "main")
            #expect(backup.succeeded, "\(backup.stderr)")
            // An instant after row 1 and before row 2: the timeline's "Branch here" at it gets row 1 only.
            try await Task.sleep(for: .seconds(1))
            let instant = ISO8601DateFormatter().string(from: Date())
            try await Task.sleep(for: .seconds(2))
            try await env.psql(main, "insert into items values (2, 'two')")
            let password = "viewer password 123"
            #expect(try await env.cli(["user", "create", "viewer@example.com"], input: password + "\n").succeeded)
            #expect(try await env.cli("member", "add", "viewer@example.com", "--role", "viewer", "--project", "shop").succeeded)
            let snapshots = try await env.cli("snapshot", "list", "--json")
            let count = try Self.snapshotCount(snapshots.stdout)

            let run = try await PythonScript.run(
                "Tests/ConsoleClients/timeline_http.py", [env.url, env.token, "shop", "viewer@example.com", password, String(count), instant],
                timeLimit: .seconds(300))
            #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")

            let list = try await env.cli("list", "--json")
            #expect(try Self.branchNames(list.stdout).contains("from-timeline"), "\(list.stdout)")
            // The branch made at an instant before row 2 was written has row 1 only.
            let url = try await Self.url(env, "from-timeline")
            #expect(try await env.psql(url, "select count(*) from items") == "1")
        }
    }

    /// A branch's URL (`branch url` may print a notice around it, e.g. about the backup key).
    static func url(_ env: TestEnvironment, _ branch: String) async throws -> String {
        let printed = try await env.cli("url", branch)
        guard let url = printed.stdout.split(whereSeparator: \.isWhitespace).first(where: { $0.hasPrefix("postgres") }) else {
            throw TestFailure("`branch url \(branch)` printed no URL: \(printed.stdout)\n\(printed.stderr)")
        }
        return String(url)
    }

    static func branchNames(_ json: String) throws -> [String] {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return (object?["branches"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    static func snapshotCount(_ json: String) throws -> Int {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return (object?["snapshots"] as? [[String: Any]] ?? []).count
    }
}
