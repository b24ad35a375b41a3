import BranchAPI
import BranchTesting
import Foundation
import Testing

@Suite("Projects and branches, end to end through the CLI", .serialized)
struct ProjectAndBranchTests {
    @Test("a project gets a working pooled URL, an owner role and a main branch")
    func createProject() async throws {
        try await TestEnvironment.with { env in
            let created = try await env.json(ProjectCreated.self, "project", "create", "shop")
            #expect(created.project.name == "shop")
            #expect(created.project.checkedOut == "main")
            #expect(created.connection.pooled)
            #expect(created.connection.port == env.poolerPort)

            // The pooled URL works with psql (SCRAM through PgBouncer) and reaches main as the owner.
            let url = try await env.cli("url", "--project", "shop").output
            #expect(url == created.connection.url)
            #expect(url.split(separator: "\n").count == 1)
            let row = try await env.psql(url, "select current_user, current_database(), current_setting('cluster_name')")
            #expect(row == "shop|shop|shop/main")
            try await env.psql(url, "create table t(id int primary key)")

            // A wrong password is refused by the pooler.
            let wrong = url.replacingOccurrences(of: created.connection.password, with: "wrong")
            await #expect(throws: TestFailure.self) { try await env.psql(wrong, "select 1") }

            let list = try await env.json(ProjectList.self, "project", "list")
            #expect(list.projects.map(\.name) == ["shop"])
            let shown = try await env.json(ProjectInfo.self, "project", "show", "shop")
            #expect(shown.branches == 1)
            #expect(try await env.subvolumes("projects/shop/branches") == ["main"])
        }
    }

    @Test("a schema-only branch has its source's tables, views and functions, every table empty and its sequences restarted")
    func schemaOnlyBranch() async throws {
        try await TestEnvironment.with { env in
            let main = try await env.linkedProject()
            try await env.psql(main, """
                create table customers(id serial primary key, email text not null);
                insert into customers(email) select 'c' || g || '@example.com' from generate_series(1, 1000) g;
                create table orders(id bigserial primary key, customer int references customers(id), total numeric);
                insert into orders(customer, total) select g, g from generate_series(1, 500) g;
                create view big_orders as select * from orders where total > 100;
                create function order_count() returns bigint language sql as 'select count(*) from orders'
                """)
            let copy = try await env.json(BranchResult.self, "create", "no-data", "--schema-only")
            #expect(copy.branch.parent == "main")
            let url = try await env.cli("url", "no-data").output
            #expect(try await env.psql(url, "select (select count(*) from customers) || ',' || (select count(*) from big_orders) || ',' || order_count()") == "0,0,0")
            #expect(try await env.psql(url, "insert into customers(email) values ('new@example.com'); select max(id) from customers") == "1", "sequences start again")
            #expect(try await env.psql(main, "select count(*) from customers") == "1000", "the source keeps its rows")
            #expect(copy.branch.createdFrom?.kind == .head && copy.branch.createdFrom?.schemaOnly == true, "it says it was made without rows")
            #expect(try await env.cli("list").output.contains("main @ HEAD, schema only"))
            // A reset brings the parent's rows, and it is no longer schema-only.
            let reset = try await env.json(BranchResult.self, "reset", "no-data")
            #expect(reset.branch.createdFrom?.schemaOnly != true)
            #expect(try await env.psql(url, "select count(*) from customers") == "1000")
        }
    }

    @Test("a protected branch refuses delete and reset; one past its time to live is deleted unless protected or checked out; branch defaults")
    func protectionAndTimeToLive() async throws {
        try await TestEnvironment.with { env in
            try await env.linkedProject()
            _ = try await env.json(BranchResult.self, "create", "keep")
            #expect(try await env.json(Components.Schemas.BranchInfo.self, "protect", "keep").protected)
            #expect(try await env.errorCode("delete", "keep") == "branch_protected")
            #expect(try await env.errorCode("delete", "keep", "--force") == "branch_protected")
            #expect(try await env.errorCode("reset", "keep") == "branch_protected")

            // Three branches with two seconds to live: one plain, one protected, one checked out.
            let asked = Date()
            let preview = try await env.json(BranchResult.self, "create", "preview", "--ttl", "2s")
            // Two seconds from when the service took the request, whatever making it took on a busy
            // machine (the instant goes over the wire to the second).
            #expect(preview.branch.expiresAt.map { $0.timeIntervalSince(asked) >= 1 && $0 <= Date().addingTimeInterval(2) } == true)
            #expect(try await env.json(Components.Schemas.BranchInfo.self, "expire", "keep", "--in", "2s").expiresAt != nil)
            _ = try await env.json(BranchResult.self, "create", "held", "--ttl", "2s")
            #expect(try await env.cli("checkout", "held").succeeded)
            #expect(try await env.cli("list").output.contains("protected"), "the list says which branches are protected")

            let deadline = ContinuousClock.now + .seconds(20)
            var names: [String] = []
            repeat {
                try await Task.sleep(for: .milliseconds(500))
                names = try await env.json(BranchList.self, "list").branches.map(\.name)
            } while names.contains("preview") && ContinuousClock.now < deadline
            #expect(names.sorted() == ["held", "keep", "main"], "the expired branch went; the protected and the checked-out ones stay")
            #expect(try await env.subvolumes("projects/app/branches").sorted() == ["held", "keep", "main"])

            // Unprotected, it goes too; `expire --never` keeps the checked-out one for good.
            #expect(try await env.json(Components.Schemas.BranchInfo.self, "expire", "held", "--never").expiresAt == nil)
            #expect(try await env.json(Components.Schemas.BranchInfo.self, "protect", "keep", "--off").protected == false)
            repeat {
                try await Task.sleep(for: .milliseconds(500))
                names = try await env.json(BranchList.self, "list").branches.map(\.name)
            } while names.contains("keep") && ContinuousClock.now < deadline + .seconds(10)
            #expect(names.sorted() == ["held", "main"])

            #expect(try await env.errorCode("create", "x", "--ttl", "soon") == "invalid_request")
            #expect(try await env.errorCode("create", "x", "--ttl", "400d") == "invalid_request")
            #expect(try await env.errorCode("expire", "main") == "invalid_request")
            #expect(try await env.errorCode("protect", "nope") == "branch_not_found")

            // Branch defaults: what a new branch gets when its creator does not choose.
            #expect(try await env.cli("project", "set", "--new-branch-ttl", "1h", "--protect-new-branches").succeeded)
            let project = try await env.json(Components.Schemas.ProjectInfo.self, "project", "show")
            #expect(project.newBranchTtlSeconds == 3600 && project.protectNewBranches)
            #expect(try await env.cli("project", "show").output.contains("deleted after 1h, protected"))
            let defaulted = try await env.json(BranchResult.self, "create", "agent-1").branch
            #expect(defaulted.protected)
            #expect(defaulted.expiresAt.map { (3500...3600).contains($0.timeIntervalSinceNow) } == true, "the project's hour to live")
            let chosen = try await env.json(BranchResult.self, "create", "chosen", "--ttl", "never", "--no-protect").branch
            #expect(!chosen.protected && chosen.expiresAt == nil, "what the creator chose wins over the defaults")
            let shorter = try await env.json(BranchResult.self, "create", "shorter", "--ttl", "90m").branch
            #expect(shorter.protected && shorter.expiresAt.map { $0.timeIntervalSinceNow > 3600 } == true)
            // A migration check's throw-away branch is never protected, so it still goes.
            let script = "\(env.root)/0001_notes.sql"
            try "create table notes (id int primary key, body text);".write(toFile: script, atomically: true, encoding: .utf8)
            let check = try await env.cli("migrate", "check", script)
            #expect(check.succeeded, "migrate check: \(check.stderr)")
            let left = try await env.json(BranchList.self, "list").branches.map(\.name)
            #expect(!left.contains { $0.hasPrefix("migration-check-") }, "the check's branch was deleted: \(left)")
            #expect(try await env.errorCode("project", "set", "--new-branch-ttl", "400d") == "invalid_request")
            #expect(try await env.cli("project", "set", "--new-branch-ttl", "never", "--no-protect-new-branches").succeeded)
            let plain = try await env.json(BranchResult.self, "create", "plain").branch
            #expect(!plain.protected && plain.expiresAt == nil)
        }
    }

    @Test("a branch is a copy of its parent's data that then lives its own life")
    func branchLifecycle() async throws {
        try await TestEnvironment.with { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table items(id int primary key, note text); insert into items select g, 'n' || g from generate_series(1, 5000) g")

            let created = try await env.json(BranchResult.self, "create", "feature")
            #expect(created.branch.parent == "main")
            #expect(created.branch.status == "running")
            #expect(created.branch.baseSnapshot != nil)
            #expect(created.branch.createdFrom?.kind == .head)
            let feature = try await env.cli("url", "feature").output
            #expect(try await env.psql(feature, "select count(*) from items") == "5000")

            // Writes on either side stay there.
            try await env.psql(feature, "delete from items where id <= 1000")
            try await env.psql(main, "insert into items values (9999, 'main only')")
            #expect(try await env.psql(feature, "select count(*) from items") == "4000")
            #expect(try await env.psql(main, "select count(*) from items") == "5001")

            // A branch of a branch, and the tree.
            _ = try await env.json(BranchResult.self, "create", "sub", "--from", "feature")
            let branches = try await env.json(BranchList.self, "list")
            let byName = Dictionary(uniqueKeysWithValues: branches.branches.map { ($0.name, $0) })
            #expect(byName["sub"]?.parent == "feature")
            #expect(byName["main"]?.checkedOut == true)
            #expect(Set(branches.branches.map(\.port)).count == 3)
            #expect(byName["main"]?.exclusiveBytes != nil)
            #expect(byName["main"].map { $0.createdFrom == nil } == true, "main was made with its project, from nothing")
            let tree = try await env.cli("list").output
            #expect(tree.contains("└─ feature"))
            #expect(tree.contains("└─ sub"))
            #expect(tree.contains("feature @ HEAD"), "the list says what each branch was made from")

            // Reset: feature gets main's current data back; its old state is kept as a snapshot.
            let reset = try await env.json(BranchResult.self, "reset", "feature")
            #expect(try await env.psql(feature, "select count(*) from items") == "5001")
            let previous = try #require(reset.replacedStateSnapshot)
            #expect(previous.kind == "pre-restore")

            // Deleting: refusals first, then the real thing.
            #expect(try await env.errorCode("delete", "feature") == "branch_has_children")
            #expect(try await env.errorCode("delete", "main") == "branch_checked_out")
            _ = try await env.json(DeleteResult.self, "delete", "sub")
            _ = try await env.json(DeleteResult.self, "delete", "feature")
            #expect(try await env.subvolumes("projects/app/branches") == ["main"])
            // Base snapshots of deleted branches go with them; the kept pre-restore snapshot stays,
            // beside main's origin (the start of its WAL history, for point-in-time branches).
            let snapshots = try await env.json(SnapshotList.self, "snapshot", "list").snapshots
            #expect(snapshots.filter { $0.kind != "automatic" }.map(\.id) == [previous.id])
            #expect(snapshots.filter { $0.kind == "automatic" }.count == 1)
            #expect(try await env.subvolumes("projects/app/snapshots") == snapshots.map(\.id).sorted())
        }
    }

    @Test("renaming a branch keeps its data, children, snapshots, WAL history and checkout; refusals change nothing")
    func rename() async throws {
        try await TestEnvironment.with { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(v int); insert into t select generate_series(1, 100)")
            _ = try await env.json(BranchResult.self, "create", "feat")
            try await env.psql(try await env.cli("url", "feat").output, "insert into t values (500)")
            _ = try await env.json(BranchResult.self, "create", "child", "--from", "feat")
            _ = try await env.json(SnapshotResult.self, "snapshot", "create", "feat", "--name", "before")
            #expect(try await env.cli("checkout", "feat").succeeded)
            let endpoint = try await env.cli("url").output
            // Far enough in the past for a point-in-time branch after the rename.
            try await Task.sleep(for: .seconds(2))

            let renamed = try await env.json(BranchResult.self, "rename", "feat", "feature")
            #expect(renamed.branch.name == "feature" && renamed.branch.checkedOut && renamed.branch.status == "running")
            #expect(renamed.operation.durationMs < 5000, "a rename is a restart, not a copy: \(renamed.operation.durationMs) ms")
            let branches = Dictionary(uniqueKeysWithValues: try await env.json(BranchList.self, "list").branches.map { ($0.name, $0) })
            #expect(branches.keys.sorted() == ["child", "feature", "main"])
            #expect(branches["child"]?.parent == "feature")
            #expect(try await env.psql(try await env.cli("url", "feature").output, "select count(*) from t") == "101")
            #expect(try await env.cli("url").output == endpoint, "the project's endpoint is unchanged")
            #expect(try await env.psql(endpoint, "select count(*) from t") == "101", "and still reaches the branch")
            #expect(try await env.errorCode("url", "feat") == "branch_not_found")
            let snapshots = try await env.json(SnapshotList.self, "snapshot", "list").snapshots
            #expect(snapshots.first { $0.name == "before" }?.sourceBranch == "feature", "its snapshots follow it")
            #expect(try await env.subvolumes("projects/app/branches") == ["child", "feature", "main"])
            #expect(FileManager.default.fileExists(atPath: "\(env.pool)/logs/app/feature"), "its logs follow it")
            #expect(!FileManager.default.fileExists(atPath: "\(env.pool)/logs/app/feat"))
            let events = try await env.json(EventList.self, "events", "-p", "app").events
            #expect(events.contains { $0.kind == "renamed" && $0.branch == "feature" && $0.detail.contains("feat") })
            // Its WAL history went with it: a branch of it as it was a second ago.
            let past = try await env.json(BranchResult.self, "create", "past", "--from", "feature", "--at", "1s-ago")
            #expect(past.branch.parent == "feature")
            #expect(try await env.psql(try await env.cli("url", "past").output, "select count(*) from t") == "101")
            // The old name is free again.
            _ = try await env.json(BranchResult.self, "create", "feat")
            #expect(try await env.psql(try await env.cli("url", "feat").output, "select count(*) from t") == "100")

            // Refusals leave everything as it was.
            #expect(try await env.errorCode("rename", "main", "trunk") == "branch_is_main")
            #expect(try await env.errorCode("rename", "feature", "main") == "branch_exists")
            #expect(try await env.errorCode("rename", "feature", "Bad_Name") == "invalid_name")
            #expect(try await env.errorCode("rename", "feature", "feature") == "invalid_request")
            #expect(try await env.errorCode("rename", "nope", "other") == "branch_not_found")
            #expect(try await env.json(Components.Schemas.BranchInfo.self, "protect", "child").protected)
            #expect(try await env.errorCode("rename", "child", "kid") == "branch_protected")
            let after = try await env.json(BranchList.self, "list").branches.map(\.name).sorted()
            #expect(after == ["child", "feat", "feature", "main", "past"])
            #expect(try await env.subvolumes("projects/app/branches") == after)
            #expect(try await env.psql(endpoint, "select count(*) from t") == "101")
        }
    }

    @Test("deleting with --force: main (once not checked out), a parent whose children are re-parented, a project")
    func forcedDeletes() async throws {
        try await TestEnvironment.with { env in
            try await env.linkedProject()
            _ = try await env.json(BranchResult.self, "create", "a")
            _ = try await env.json(BranchResult.self, "create", "b", "--from", "a")
            _ = try await env.json(DeleteResult.self, "delete", "a", "--force")
            let branches = try await env.json(BranchList.self, "list")
            #expect(branches.branches.first { $0.name == "b" }?.parent == "main")

            _ = try await env.json(CheckoutResult.self, "checkout", "b")
            #expect(try await env.errorCode("delete", "main") == "branch_is_main")
            _ = try await env.json(DeleteResult.self, "delete", "main", "--force")
            #expect(try await env.json(BranchList.self, "list").branches.map(\.name) == ["b"])

            #expect(try await env.errorCode("project", "delete", "app") == "project_has_branches")
            _ = try await env.json(DeleteResult.self, "project", "delete", "app", "--force")
            #expect(try await env.json(ProjectList.self, "project", "list").projects.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: "\(env.pool)/projects/app"))
            // The pooler no longer knows the project.
            #expect(try await env.cli("url", "--project", "app").succeeded == false)
        }
    }
}
