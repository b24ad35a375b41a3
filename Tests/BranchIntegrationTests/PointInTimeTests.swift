import BranchAPI
import BranchCore
import BranchTesting
import Foundation
import Testing

@Suite("Point-in-time branches, schedules and retention", .serialized)
struct PointInTimeTests {
    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    /// The next whole second from now, so an instant in a test falls cleanly between writes.
    static func waitForNextSecond() async throws -> Date {
        let now = Date().timeIntervalSince1970
        let next = floor(now) + 1
        try await Task.sleep(for: .milliseconds(Int((next - now) * 1000) + 20))
        return Date(timeIntervalSince1970: next)
    }

    @Test("a branch at an instant holds every transaction committed up to that second and none after")
    func boundaryToTheSecond() async throws {
        try await TestEnvironment.with { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table events(id int, note text)")

            // Commits in three different seconds: s1 (≤ T), then T itself, then s3 (> T).
            _ = try await Self.waitForNextSecond()
            try await env.psql(main, "insert into events values (1, 'before')")
            let instant = try await Self.waitForNextSecond()
            try await env.psql(main, "insert into events values (2, 'in the second after the instant')")
            _ = try await Self.waitForNextSecond()
            try await env.psql(main, "insert into events values (3, 'later')")

            let past = try await env.json(BranchResult.self, "create", "past", "--from", "main", "--at", Self.iso(instant))
            #expect(past.branch.parent == "main")
            let pastURL = try await env.cli("url", "past").output
            #expect(try await env.psql(pastURL, "select string_agg(id::text, ',' order by id) from events") == "1")

            // One second later includes the second row, not the third.
            let later = try await env.json(BranchResult.self, "create", "later", "--from", "main", "--at", Self.iso(instant.addingTimeInterval(1)))
            #expect(later.branch.status == "running")
            #expect(try await env.psql(try await env.cli("url", "later").output, "select string_agg(id::text, ',' order by id) from events") == "1,2")

            // Now (no commit after it): everything. The instant is a whole second, so take the next one:
            // the current second truncated could fall before the last commit.
            let now = try await Self.waitForNextSecond()
            #expect(try await env.json(BranchResult.self, "create", "now", "--from", "main", "--at", Self.iso(now)).branch.name == "now")
            #expect(try await env.psql(try await env.cli("url", "now").output, "select count(*) from events") == "3")

            // The point-in-time branch is a normal branch: writable, with its own history.
            try await env.psql(pastURL, "insert into events values (9, 'only in past')")
            let afterNine = try await Self.waitForNextSecond()
            let twice = try await env.json(BranchResult.self, "create", "past2", "--from", "past", "--at", Self.iso(afterNine))
            #expect(twice.branch.parent == "past")
            #expect(try await env.psql(try await env.cli("url", "past2").output, "select string_agg(id::text, ',' order by id) from events") == "1,9")

            // Before the project existed, and in the future: refused with the earliest point.
            #expect(try await env.errorCode("create", "x", "--from", "main", "--at", "2020-01-01T00:00:00Z") == "point_not_restorable")
            #expect(try await env.errorCode("create", "y", "--from", "main", "--at", Self.iso(Date().addingTimeInterval(3600))) == "invalid_request")
            let project = try await env.json(ProjectInfo.self, "project", "show")
            #expect(project.retentionDays == 7)
            let earliest = try #require(project.earliestRestorableAt)
            #expect(abs(earliest.timeIntervalSince(project.createdAt)) < 5, "main can be re-created from its creation on")
            #expect(try await env.cli("project", "show").stdout.contains("earliest restorable point"))
        }
    }

    @Test("a branch at a WAL position holds what the WAL before it wrote and nothing after; a diff reads there too")
    func atWALPosition() async throws {
        try await TestEnvironment.with { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table events(id int primary key, note text); insert into events values (1, 'before')")
            let position = try await env.psql(main, "select pg_current_wal_lsn()")
            try await env.psql(main, "insert into events values (2, 'after'); update events set note = 'changed' where id = 1")

            let past = try await env.json(BranchResult.self, "create", "lsn-past", "--from", "main", "--at", position)
            #expect(past.branch.parent == "main")
            #expect(past.branch.createdFrom?.kind == .position && past.branch.createdFrom?.position == position)
            let pastURL = try await env.cli("url", "lsn-past").output
            #expect(try await env.psql(pastURL, "select string_agg(id || ':' || note, ',' order by id) from events") == "1:before")

            // The diff from that position to now: the row added and the row changed after it.
            let diff = try await env.diff("main@\(position)", "main", "--summary")
            #expect(diff.end?.rowsAdded == 1 && diff.end?.rowsChanged == 1 && diff.end?.rowsRemoved == 0)

            // A position the branch has not reached, one before its first snapshot, and not a position.
            let ahead = try #require(WALPosition(position)).value + 0x1_0000_0000
            #expect(try await env.errorCode("create", "x", "--from", "main", "--at", WALPosition(ahead).description) == "invalid_request")
            #expect(try await env.errorCode("create", "y", "--from", "main", "--at", "0/10") == "point_not_restorable")
            #expect(try await env.errorCode("create", "z", "--from", "main", "--at", "0/XYZ") == "invalid_request")
            #expect(try await env.errorCode("diff", "main@0/XYZ", "main") == "invalid_request")
        }
    }

    @Test("after an in-place restore, instants before and after it come from the right history")
    func acrossRestores() async throws {
        try await TestEnvironment.with { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(v int); insert into t values (1)")
            let one = try await env.json(SnapshotResult.self, "snapshot", "create", "--name", "one")
            try await env.psql(main, "insert into t values (2)")
            let beforeRestore = try await Self.waitForNextSecond()
            _ = try await Self.waitForNextSecond()
            _ = try await env.json(BranchResult.self, "restore", "one", "--in-place")
            try await env.psql(main, "insert into t values (3)")
            let afterRestore = try await Self.waitForNextSecond()
            _ = try await Self.waitForNextSecond()
            try await env.psql(main, "insert into t values (4)")

            let a = try await env.json(BranchResult.self, "create", "a", "--from", "main", "--at", Self.iso(beforeRestore))
            #expect(a.branch.createdFrom?.kind == .instant)
            #expect(a.branch.createdFrom?.at.map { abs($0.timeIntervalSince(beforeRestore)) < 1 } == true, "the instant asked for, not the replay's end")
            #expect(try await env.psql(try await env.cli("url", "a").output, "select string_agg(v::text, ',' order by v) from t") == "1,2")
            _ = try await env.json(BranchResult.self, "create", "b", "--from", "main", "--at", Self.iso(afterRestore))
            #expect(try await env.psql(try await env.cli("url", "b").output, "select string_agg(v::text, ',' order by v) from t") == "1,3")

            // A branch made from a snapshot says which.
            let c = try await env.json(BranchResult.self, "create", "c", "--snapshot", "one")
            #expect(c.branch.createdFrom?.kind == .snapshot && c.branch.createdFrom?.snapshot == one.snapshot.id)
        }
    }

    @Test("schedules take automatic snapshots and prune them by their rules, never a branch's base")
    func snapshotSchedule() async throws {
        try await TestEnvironment.with { env in
            try await env.linkedProject()
            let defaults = try await env.json(ScheduleList.self, "schedule", "show")
            #expect(defaults.schedules.first?.expression == "0 * * * *")
            // And the daily backup every project gets (see DefaultBackupScheduleTests).
            #expect(defaults.schedules.map(\.kind) == ["snapshot", "backup"])
            _ = try await env.json(BranchResult.self, "create", "feat")

            let set = try await env.json(ScheduleInfo.self, "schedule", "set", "snapshot", "--cron", "@every 2s", "--keep-last", "2", "--hourly", "0", "--daily", "0", "--weekly", "0")
            #expect(set.keepLast == 2)
            #expect(try await env.errorCode("schedule", "set", "snapshot", "--cron", "61 * * * *") == "invalid_request")

            // The first automatic snapshot of feat is pinned: retention keeps it past the two newest.
            var pinned: String?
            for _ in 0..<40 where pinned == nil {
                try await Task.sleep(for: .milliseconds(250))
                pinned = try await env.json(SnapshotList.self, "snapshot", "list").snapshots
                    .first { $0.kind == "automatic" && $0.sourceBranch == "feat" }?.id
            }
            let pinnedID = try #require(pinned, "a first automatic snapshot of feat")
            #expect(try await env.json(Components.Schemas.SnapshotInfo.self, "snapshot", "pin", pinnedID).pinned)
            #expect(try await env.errorCode("snapshot", "pin", "nothere") == "snapshot_not_found")

            // Several runs later, with the schedule off and its last run finished (a listing taken
            // between a run's snapshot and its pruning sees one more): at most the two kept, plus
            // the oldest one when it anchors the point-in-time window, plus the pinned one.
            try await Task.sleep(for: .seconds(9))
            _ = try await env.json(ScheduleList.self, "schedule", "off", "snapshot")
            #expect(try await env.json(ScheduleList.self, "schedule", "show").schedules.map(\.kind) == ["backup"])
            var snapshots: [Components.Schemas.SnapshotInfo] = []
            var agree = false
            for _ in 0..<50 where !agree {
                let before = try await env.json(SnapshotList.self, "snapshot", "list").snapshots.map(\.id)
                try await Task.sleep(for: .milliseconds(500))
                snapshots = try await env.json(SnapshotList.self, "snapshot", "list").snapshots
                // Every snapshot row has its subvolume and no more, and nothing changed meanwhile.
                agree = try await env.subvolumes("projects/app/snapshots").count == snapshots.count && before == snapshots.map(\.id)
            }
            let automatic = snapshots.filter { $0.kind == "automatic" }
            let perBranch = Dictionary(grouping: automatic, by: \.sourceBranch)
            #expect(perBranch["main"].map { (1...3).contains($0.count) } == true, "main: \(perBranch["main"]?.count ?? 0)")
            #expect(perBranch["feat"].map { (2...4).contains($0.count) } == true, "feat: \(perBranch["feat"]?.count ?? 0)")
            #expect(automatic.first { $0.id == pinnedID }?.pinned == true, "the pinned snapshot outlived the rules")
            #expect(try await env.cli("snapshot", "list").output.contains("automatic, pinned"))
            #expect(try await env.json(Components.Schemas.SnapshotInfo.self, "snapshot", "pin", pinnedID, "--off").pinned == false)
            // main's origin snapshot is protected (its lineage starts there) and feat's base too.
            let branches = try await env.json(BranchList.self, "list").branches
            for base in branches.compactMap(\.baseSnapshot) { #expect(snapshots.contains { $0.id == base }) }
            #expect(agree, "snapshot subvolumes vs catalog")
        }
    }
}
