import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

@Suite("Disk guards and pre-paid snapshots", .serialized)
struct DiskGuardTests {
    /// Fills the pool with a file outside any subvolume until about `leave` bytes are free.
    static func fill(_ env: TestEnvironment, leaving leave: UInt64) async throws {
        let free = try await env.json(StatusResponse.self, "status").pool.freeBytes
        let size = UInt64(free) > leave ? UInt64(free) - leave : 0
        _ = try await Command.run("fallocate", ["-l", String(size), "\(env.pool)/filler"])
        _ = try await Command.run("btrfs", ["filesystem", "sync", env.pool])
    }

    static func unfill(_ env: TestEnvironment) async throws {
        try FileManager.default.removeItem(atPath: "\(env.pool)/filler")
        _ = try await Command.run("btrfs", ["filesystem", "sync", env.pool])
    }

    @Test("below the reserve, what grows the pool is refused with a hint of what to free; reads, deletes and in-place restores work")
    func belowReserve() async throws {
        try await TestEnvironment.with(poolSize: "1G", serveArguments: ["--free-space-reserve", "200M"]) { env in
            try await env.linkedProject()
            _ = try await env.json(BranchResult.self, "create", "feature")
            let kept = try await env.json(SnapshotResult.self, "snapshot", "create").snapshot.id
            let spare = try await env.json(SnapshotResult.self, "snapshot", "create").snapshot.id
            let url = try await env.cli("url").output
            _ = try await env.psql(url, "create table t (id int); insert into t select generate_series(1, 1000)")

            var status = try await env.json(StatusResponse.self, "status")
            #expect(status.pool.reserveBytes == 200 << 20)
            #expect(status.pool.usage.logs > 0)
            try await Self.fill(env, leaving: 100 << 20)

            #expect(try await env.errorCode("create", "other") == "pool_full")
            #expect(try await env.errorCode("snapshot", "create") == "pool_full")
            #expect(try await env.errorCode("project", "create", "second") == "pool_full")
            let refused = try await env.failure("create", "other")
            #expect(refused.stderr.contains("--free-space-reserve"), "\(refused.stderr)")
            if status.pool.quotas { #expect(refused.stderr.contains("`branch "), "\(refused.stderr)") }
            let text = try await env.cli("status").output
            #expect(text.contains("below it"), "\(text)")

            // Reads, deletes and an in-place restore still work.
            #expect(try await env.psql(url, "select count(*) from t") == "1000")
            #expect(try await env.json(BranchList.self, "list").branches.map(\.name).sorted() == ["feature", "main"])
            _ = try await env.json(DeleteResult.self, "delete", "feature")
            _ = try await env.json(DeleteResult.self, "snapshot", "delete", spare)
            _ = try await env.json(BranchResult.self, "restore", kept, "--in-place")
            #expect(try await env.psql(try await env.cli("url").output, "select count(*) from pg_tables where tablename = 't'") == "0")
            #expect(try await env.subvolumes("work").isEmpty)

            try await Self.unfill(env)
            _ = try await env.json(BranchResult.self, "create", "other")
            status = try await env.json(StatusResponse.self, "status")
            #expect(status.pool.freeBytes > status.pool.reserveBytes)
        }
    }

    @Test("a bulk write is pre-paid in the background, and the branch taken right after it is about as fast as the next")
    func prePaidAfterLoad() async throws {
        try await TestEnvironment.with(poolSize: "3G") { env in
            try await env.linkedProject()
            let url = try await env.cli("url").output
            // About 200 MB of table and as much WAL.
            _ = try await env.psql(url, "create table load as select g, repeat(md5(g::text), 30) as pad from generate_series(1, 200000) g")

            // The writes stopped: the pre-pay checkpoints main within a few readings.
            let deadline = ContinuousClock.now + .seconds(30)
            var prepaid: [Components.Schemas.EventInfo] = []
            while ContinuousClock.now < deadline {
                prepaid = try await env.json(EventList.self, "events").events.filter { $0.kind == "prepaid" && $0.branch == "main" }
                if !prepaid.isEmpty { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(!prepaid.isEmpty)
            let metrics = try await Command.run("curl", ["-sS", "-H", "Authorization: Bearer \(env.token)", "\(env.url)/metrics"]).stdout
            #expect(metrics.contains("branch_prepay_checkpoints_total"), "\(metrics.prefix(400))")

            // A second load, then a branch right after it and two later ones.
            _ = try await env.psql(url, "create table load2 as select g, repeat(md5(g::text), 30) as pad from generate_series(1, 200000) g")
            var durations: [Double] = []
            for name in ["first", "second", "third"] {
                let created = try await env.json(BranchResult.self, "create", name)
                durations.append(created.operation.durationMs)
            }
            let later = min(durations[1], durations[2])
            #expect(durations[0] <= 3 * later + 300, "first \(durations[0]) ms, later \(durations[1]) and \(durations[2]) ms")
        }
    }
}
