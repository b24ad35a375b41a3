import BranchSystem
import BranchTesting
import Foundation
import Testing

/// The console's snapshots & backups page, restore flow and activity feed, end to end over HTTP
/// (Tests/ConsoleClients/backups_http.py): snapshot, restore in place, undo from the feed, back up
/// now, verify, schedules; a viewer sees no buttons and is refused; hostile names are escaped.
@Suite("Console: snapshots, backups, restore and activity", .serialized)
struct ConsoleBackupsTests {
    @Test("snapshot, restore in place and undo it, back up and verify, schedules, a viewer refused")
    func backupsOverHTTP() async throws {
        try await TestEnvironment.with(poolSize: "2G", backups: true) { env in
            let main = try await env.linkedProject("shop")
            try await env.psql(main, "create table items(id int primary key, name text); insert into items values (1, 'original'), (2, 'two')")
            // A merge made through the API (the CLI): the feed offers to undo it too.
            #expect(try await env.cli("create", "feature").succeeded)
            try await env.psql(try await env.cli("url", "feature").output, "insert into items values (3, 'merged')")
            let merged = try await env.cli("merge", "feature")
            #expect(merged.succeeded, "\(merged.stdout)\(merged.stderr)")
            let password = "viewer password 123"
            let created = try await env.cli(["user", "create", "viewer@example.com"], input: password + "\n")
            #expect(created.succeeded, "\(created.stderr)")
            let member = try await env.cli("member", "add", "viewer@example.com", "--role", "viewer", "--project", "shop")
            #expect(member.succeeded, "\(member.stderr)")
            let other = try await env.cli("project", "create", "other")
            #expect(other.succeeded, "\(other.stderr)")

            let run = try await PythonScript.run(
                "Tests/ConsoleClients/backups_http.py", [env.url, env.token, "shop", main, "viewer@example.com", password, "other"],
                timeLimit: .seconds(600))
            #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")

            // What the pages did is what the CLI sees.
            #expect(try await env.psql(main, "select name from items where id = 1") == "changed")
            let schedules = try await env.cli("schedule", "show", "--json")
            #expect(schedules.succeeded, "\(schedules.stderr)")
            let list = try? JSONSerialization.jsonObject(with: Data(schedules.stdout.utf8)) as? [String: Any]
            let snapshot = (list?["schedules"] as? [[String: Any]])?.first { $0["kind"] as? String == "snapshot" }
            #expect(snapshot?["expression"] as? String == "*/15 * * * *")
            #expect(snapshot?["keepLast"] as? Int == 8)
            #expect(snapshot?["monthly"] as? Int == 1)
            let branches = try await env.cli("list", "--json").stdout
            #expect(branches.contains("\"from-backup\"") && !branches.contains("\"investigate\""))
            #expect(try await env.psql(try await env.cli("url", "from-backup").output, "select name from items where id = 1") == "changed")
            #expect(try await env.psql(try await env.cli("url", "at-instant").output, "select name from items where id = 1") == "changed")
            let snapshots = try await env.cli("snapshot", "list", "--json").stdout
            #expect(snapshots.contains("before-change") && !snapshots.contains("undo-me") && !snapshots.contains("sneaky"))
            // The downloads' throw-away servers and copies are gone, the dropped one's too; both audited.
            var leftovers = try await env.subvolumes("work")
            for _ in 0..<60 where !leftovers.isEmpty {
                try await Task.sleep(for: .milliseconds(500))
                leftovers = try await env.subvolumes("work")
            }
            #expect(leftovers.isEmpty, "\(leftovers)")
            let audit = try await env.cli("audit", "--jsonl").stdout.split(separator: "\n").filter { $0.contains("\"exportBackup\"") }
            #expect(audit.count >= 2, "\(audit)")
        }
    }
}
