import BranchAPI
import BranchCore
import BranchTesting
import Foundation
import Testing

/// The service is killed (SIGKILL, by its own crash point) in the middle of every multi-step
/// operation; the next start must leave catalog and disk in agreement, nothing half made, and the
/// operation possible again.
@Suite("Crash recovery: kill -9 mid-operation", .serialized)
struct CrashRecoveryTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let point: String
        let operation: [String]
        /// What must be true after recovery.
        let expectation: Expectation
        var testDescription: String { point }
    }

    enum Expectation: Sendable {
        case projectAbsent(String), projectPresent(String)
        case branchAbsent(String), branchPresent(String)
        case snapshotAbsent(String), snapshotCount(Int)
        /// Rows in main's table t after recovery (100 = restored snapshot, 101 = untouched).
        case mainRows(Int)
        case featureRebased
        /// `feat` is under this name (and only this one), with its rows.
        case featNamed(String)
    }

    /// Creating, deleting and renaming: rolled back before the point of no return, finished after it.
    static let lifecycleCases: [Case] = [
        Case(point: "project.create.after-catalog", operation: ["project", "create", "other"], expectation: .projectAbsent("other")),
        Case(point: "project.create.after-snapshot", operation: ["project", "create", "other"], expectation: .projectAbsent("other")),
        Case(point: "project.create.after-start", operation: ["project", "create", "other"], expectation: .projectAbsent("other")),
        Case(point: "project.create.after-ready", operation: ["project", "create", "other"], expectation: .projectPresent("other")),
        Case(point: "branch.create.after-catalog", operation: ["create", "newb"], expectation: .branchAbsent("newb")),
        Case(point: "branch.create.after-base-snapshot", operation: ["create", "newb"], expectation: .branchAbsent("newb")),
        Case(point: "branch.create.after-snapshot", operation: ["create", "newb"], expectation: .branchAbsent("newb")),
        Case(point: "branch.create.after-start", operation: ["create", "newb"], expectation: .branchAbsent("newb")),
        Case(point: "branch.create.after-ready", operation: ["create", "newb"], expectation: .branchPresent("newb")),
        Case(point: "branch.delete.after-mark", operation: ["delete", "feat"], expectation: .branchAbsent("feat")),
        Case(point: "branch.delete.after-subvolume", operation: ["delete", "feat"], expectation: .branchAbsent("feat")),
        // A rename goes forward once the subvolume has moved, back before.
        Case(point: "branch.rename.after-mark", operation: ["rename", "feat", "feature"], expectation: .featNamed("feat")),
        Case(point: "branch.rename.after-move", operation: ["rename", "feat", "feature"], expectation: .featNamed("feature")),
        Case(point: "branch.rename.after-catalog", operation: ["rename", "feat", "feature"], expectation: .featNamed("feature")),
        Case(point: "snapshot.create.after-catalog", operation: ["snapshot", "create", "--name", "s2"], expectation: .snapshotAbsent("s2")),
        Case(point: "snapshot.create.after-snapshot", operation: ["snapshot", "create", "--name", "s2"], expectation: .snapshotAbsent("s2")),
        Case(point: "snapshot.delete.after-mark", operation: ["snapshot", "delete", "snap"], expectation: .snapshotAbsent("snap")),
    ]

    /// Operations that change data in place: the data is either all before or all after.
    static let dataCases: [Case] = [
        Case(point: "replace.before-stop", operation: ["restore", "snap", "--in-place"], expectation: .mainRows(101)),
        Case(point: "replace.before-exchange", operation: ["restore", "snap", "--in-place"], expectation: .mainRows(101)),
        Case(point: "replace.after-exchange", operation: ["restore", "snap", "--in-place"], expectation: .mainRows(100)),
        Case(point: "replace.after-exchange", operation: ["reset", "feat"], expectation: .featureRebased),
        // Merge (feat has a row main lacks), table restore, point in time: nothing of a half-done
        // change stays; the target keeps its rows.
        Case(point: "merge.after-snapshot", operation: ["merge", "feat"], expectation: .mainRows(101)),
        Case(point: "merge.before-commit", operation: ["merge", "feat"], expectation: .mainRows(101)),
        Case(point: "table.restore.after-snapshot", operation: ["restore", "snap", "--table", "t"], expectation: .mainRows(101)),
        Case(point: "table.restore.after-truncate", operation: ["restore", "snap", "--table", "t"], expectation: .mainRows(101)),
        Case(point: "branch.create-at.after-start", operation: ["create", "newb", "--at", "1s-ago"], expectation: .branchAbsent("newb")),
        Case(
            point: "branch.create-at.after-base-snapshot", operation: ["create", "newb", "--at", "1s-ago"], expectation: .branchAbsent("newb")),
        Case(point: "project.delete.after-mark", operation: ["project", "delete", "app", "--force"], expectation: .projectAbsent("app")),
        Case(point: "project.delete.after-stop", operation: ["project", "delete", "app", "--force"], expectation: .projectAbsent("app")),
    ]

    // Two tests, so scripts/test.sh can run the two halves in different shards.
    @Test("a create, delete or rename cut off is rolled back or finished", arguments: lifecycleCases)
    func recoversLifecycle(_ crash: Case) async throws { try await recovers(crash) }

    @Test("a restore, reset, merge, table restore, point-in-time branch or project delete cut off leaves the data whole", arguments: dataCases)
    func recoversDataChange(_ crash: Case) async throws { try await recovers(crash) }

    private func recovers(_ crash: Case) async throws {
        try await TestEnvironment.with { env in
            // A project with data, a branch and a snapshot.
            let main = try await env.linkedProject()
            // No hourly snapshot may land mid-case (a point-in-time branch "1s-ago" then has other snapshots to weigh).
            _ = try await env.json(ScheduleList.self, "schedule", "off", "snapshot")
            try await env.psql(main, "create table t(v int); insert into t select generate_series(1, 100)")
            let feature = try await env.json(BranchResult.self, "create", "feat").branch
            try await env.psql(try await env.cli("url", "feat").output, "insert into t values (500)")
            _ = try await env.json(SnapshotResult.self, "snapshot", "create", "main", "--name", "snap")
            try await env.psql(main, "insert into t values (101)")

            // Run the operation on a service that dies at the crash point.
            try env.armCrash(at: crash.point)
            let interrupted = try await env.cli(crash.operation)
            #expect(!interrupted.succeeded, "the operation should have been cut off")
            let status = await env.waitForServiceExit()
            #expect(status.map(Int.init) == 137, "the service should have died by SIGKILL (128 + 9) at \(crash.point): \(interrupted.stdout) \(interrupted.stderr)")

            // Restart: reconciliation.
            try await env.startService()
            try await Self.checkConsistency(env)

            let operations = try await env.json(OperationList.self, "operations")
            #expect(operations.operations.contains { $0.state == "interrupted" && $0.recovery != nil })

            switch crash.expectation {
            case .projectAbsent(let name):
                #expect(try await !env.json(ProjectList.self, "project", "list").projects.contains { $0.name == name })
                #expect(!FileManager.default.fileExists(atPath: "\(env.pool)/projects/\(name)"))
                if name == "other" {
                    _ = try await env.json(ProjectCreated.self, "project", "create", "other")  // and it can be done again
                }
            case .projectPresent(let name):
                let url = try await env.cli("url", "--project", name).output
                #expect(try await env.psql(url, "select current_user") == name)
            case .branchAbsent(let name):
                #expect(try await !env.json(BranchList.self, "list").branches.contains { $0.name == name })
                if name == "newb" {
                    _ = try await env.json(BranchResult.self, "create", "newb")
                    #expect(try await env.psql(try await env.cli("url", "newb").output, "select count(*) from t") == "101")
                }
            case .branchPresent(let name):
                #expect(try await env.psql(try await env.cli("url", name).output, "select count(*) from t") == "101")
            case .snapshotAbsent(let name):
                #expect(try await !env.json(SnapshotList.self, "snapshot", "list").snapshots.contains { $0.name == name })
                if name == "s2" { _ = try await env.json(SnapshotResult.self, "snapshot", "create", "--name", "s2") }
            case .snapshotCount(let count):
                #expect(try await env.json(SnapshotList.self, "snapshot", "list").snapshots.count == count)
            case .mainRows(let rows):
                #expect(try await env.psql(main, "select count(*) from t") == String(rows))
                #expect(try await env.psql(try await env.cli("url").output, "select count(*) from t") == String(rows))
            case .featNamed(let name):
                let names = try await env.json(BranchList.self, "list").branches.map(\.name).sorted()
                #expect(names == [name, "main"].sorted())
                #expect(try await env.psql(try await env.cli("url", name).output, "select count(*) from t") == "101")
                #expect(!FileManager.default.fileExists(atPath: "\(env.pool)/projects/app/branches/\(name)/.branch-rename"), "the rename's marker is gone")
                #expect(FileManager.default.fileExists(atPath: "\(env.pool)/logs/app/\(name)"), "the logs are under the name the branch has")
            case .featureRebased:
                let now = try #require(try await env.json(BranchList.self, "list").branches.first { $0.name == "feat" })
                #expect(now.baseSnapshot != feature.baseSnapshot)
                #expect(try await env.psql(try await env.cli("url", "feat").output, "select count(*) from t") == "101")
                let snapshots = try await env.json(SnapshotList.self, "snapshot", "list").snapshots.map(\.id)
                #expect(!snapshots.contains(try #require(feature.baseSnapshot)))
            }
            try await Self.checkConsistency(env)
        }
    }

    @Test("the service killed with nothing in flight adopts the servers it left running")
    func adoptsRunningServers() async throws {
        try await TestEnvironment.with { env in
            try await env.linkedProject()
            _ = try await env.json(BranchResult.self, "create", "feat")
            let before = Set(await env.serverProcesses())
            await env.killService()
            // Postgres and PgBouncer do not depend on the service process.
            #expect(Set(await env.serverProcesses()) == before)
            try await env.startService()
            #expect(Set(await env.serverProcesses()) == before, "the same servers, adopted, not restarted")
            #expect(try await env.psql(try await env.cli("url").output, "select 1") == "1")
            try await Self.checkConsistency(env)
        }
    }

    /// Catalog and disk agree; every branch is ready, its server answers; nothing in flight remains.
    static func checkConsistency(_ env: TestEnvironment) async throws {
        let projects = try await env.json(ProjectList.self, "project", "list").projects.map(\.name)
        let onDisk = ((try? FileManager.default.contentsOfDirectory(atPath: "\(env.pool)/projects")) ?? []).sorted()
        #expect(onDisk == projects.sorted(), "project directories vs catalog")
        #expect(try await env.subvolumes("work").isEmpty, "no work subvolume left behind")
        var runningBranches = 0
        for project in projects {
            let branches = try await env.json(BranchList.self, "list", "--project", project).branches
            #expect(branches.allSatisfy { $0.state == "ready" }, "no branch left creating or deleting")
            #expect(try await env.subvolumes("projects/\(project)/branches") == branches.map(\.name).sorted(), "branch subvolumes vs catalog")
            let snapshots = try await env.json(SnapshotList.self, "snapshot", "list", "--project", project).snapshots
            #expect(try await env.subvolumes("projects/\(project)/snapshots") == snapshots.map(\.id).sorted(), "snapshot subvolumes vs catalog")
            for branch in branches {
                #expect(branch.status == "running")
                runningBranches += 1
                let url = try await env.cli("url", branch.name, "--project", project).output
                #expect(try await env.psql(url, "select 1") == "1")
                if let base = branch.baseSnapshot { #expect(snapshots.contains { $0.id == base }, "base snapshot \(base) exists") }
            }
        }
        // One postmaster per running branch plus one PgBouncer: nothing stray.
        #expect(await env.serverProcesses().count == runningBranches + 1)
    }
}
