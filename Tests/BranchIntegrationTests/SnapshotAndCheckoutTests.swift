import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

@Suite("Snapshots, restore and checkout", .serialized)
struct SnapshotAndCheckoutTests {
    @Test("snapshots are read-only, restorable as a new branch or in place, and an in-place restore can be undone")
    func snapshotsAndRestore() async throws {
        try await TestEnvironment.with { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(v int); insert into t values (1)")
            let mainPort = try await env.json(BranchList.self, "list").branches.first { $0.name == "main" }?.port

            let snapshot = try await env.json(SnapshotResult.self, "snapshot", "create", "--name", "one").snapshot
            #expect(snapshot.name == "one")
            #expect(snapshot.sourceBranch == "main")
            #expect(snapshot.kind == "manual")
            let readOnly = try await env.psql(main, "select 1")  // the server keeps running
            #expect(readOnly == "1")
            let property = try await Command.run("btrfs", ["property", "get", "\(env.pool)/projects/app/snapshots/\(snapshot.id)", "ro"])
            #expect(property.stdout.contains("ro=true"))

            try await env.psql(main, "insert into t values (2)")

            // As a new branch: the state at the snapshot.
            let restored = try await env.json(BranchResult.self, "restore", "one", "--as", "then")
            #expect(restored.branch.baseSnapshot == snapshot.id)
            #expect(try await env.psql(try await env.cli("url", "then").output, "select string_agg(v::text, ',') from t") == "1")

            // In place: main goes back to 1 row, and its replaced state is a snapshot.
            let inPlace = try await env.json(BranchResult.self, "restore", snapshot.id, "--in-place")
            #expect(inPlace.branch.name == "main")
            #expect(inPlace.branch.port == mainPort)
            #expect(try await env.psql(main, "select string_agg(v::text, ',' order by v) from t") == "1")
            let undo = try #require(inPlace.replacedStateSnapshot)
            _ = try await env.json(BranchResult.self, "restore", undo.id, "--in-place")
            #expect(try await env.psql(main, "select string_agg(v::text, ',' order by v) from t") == "1,2")

            // The app's pooled URL kept working through both swaps.
            #expect(try await env.psql(try await env.cli("url").output, "select count(*) from t") == "2")

            // A stopped branch gets the data but stays stopped.
            _ = try await env.json(BranchResult.self, "stop", "then")
            let quiet = try await env.json(BranchResult.self, "restore", undo.id, "--in-place", "--branch", "then")
            #expect(quiet.branch.status == "stopped")

            // A snapshot that is some branch's base cannot be deleted; others can.
            #expect(try await env.errorCode("snapshot", "delete", "one") == "snapshot_in_use")
            _ = try await env.json(DeleteResult.self, "delete", "then")
            _ = try await env.json(DeleteResult.self, "snapshot", "delete", "one")
            #expect(try await !env.subvolumes("projects/app/snapshots").contains(snapshot.id))
            #expect(try await env.errorCode("snapshot", "delete", "one") == "snapshot_not_found")

            // Names are unique per project.
            _ = try await env.json(SnapshotResult.self, "snapshot", "create", "--name", "two")
            #expect(try await env.errorCode("snapshot", "create", "--name", "two") == "snapshot_exists")
        }
    }

    @Test("checkout moves the app's unchanged URL to another branch; pooled server connections to the old one are recycled")
    func checkout() async throws {
        try await TestEnvironment.with { env in
            try await env.linkedProject()
            let appURL = try await env.cli("url").output
            let mainURL = try await env.cli("url", "main").output
            try await env.psql(mainURL, "create table which(name text); insert into which values ('main')")
            _ = try await env.json(BranchResult.self, "create", "preview")
            let previewURL = try await env.cli("url", "preview").output
            try await env.psql(previewURL, "update which set name = 'preview'")

            #expect(try await env.psql(appURL, "select name from which") == "main")
            // The pooler now holds an idle server connection to main.
            let pooledBefore = try await env.psql(mainURL, "select count(*) from pg_stat_activity where usename = 'app' and pid <> pg_backend_pid()")
            #expect(pooledBefore == "1")

            let result = try await env.json(CheckoutResult.self, "checkout", "preview")
            #expect(result.previous == "main")
            #expect(result.checkedOut == "preview")
            #expect(try await env.psql(appURL, "select name from which") == "preview")
            // PgBouncer dropped its connection to main instead of reusing it.
            var remaining = "1"
            for _ in 0..<50 where remaining != "0" {
                remaining = try await env.psql(mainURL, "select count(*) from pg_stat_activity where usename = 'app' and pid <> pg_backend_pid()")
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(remaining == "0")

            _ = try await env.json(CheckoutResult.self, "checkout", "main")
            #expect(try await env.psql(appURL, "select name from which") == "main")
            let projects = try await env.json(ProjectInfo.self, "project", "show")
            #expect(projects.checkedOut == "main")

            // Checking out a stopped branch starts it.
            _ = try await env.json(BranchResult.self, "stop", "preview")
            let stopped = try await env.json(BranchList.self, "list").branches.first { $0.name == "preview" }
            #expect(stopped?.status == "stopped")
            _ = try await env.json(CheckoutResult.self, "checkout", "preview")
            #expect(try await env.psql(appURL, "select name from which") == "preview")
        }
    }
}
