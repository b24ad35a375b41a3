import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

/// A full pool never corrupts the catalog or a branch: WAL archiving and a backup written into
/// the pool's own filesystem fail while it is full, and everything works again once space is freed.
/// Every call that could wait on the full disk is bounded, so a hang fails the test instead of
/// stalling it.
@Suite("A full pool: WAL archiving and backups into the pool's filesystem", .serialized)
struct FullPoolTests {
    /// Fills the pool to the last byte with a file outside any subvolume: most of it at once, the
    /// rest written until the filesystem says ENOSPC.
    static func fillCompletely(_ env: TestEnvironment) async throws {
        try await DiskGuardTests.fill(env, leaving: 8 << 20)
        _ = try await Command.run("dd", ["if=/dev/urandom", "of=\(env.pool)/filler-rest", "bs=1M", "count=64"], check: false)
        _ = try await Command.run("btrfs", ["filesystem", "sync", env.pool])
    }

    static func unfillCompletely(_ env: TestEnvironment) async throws {
        try? FileManager.default.removeItem(atPath: "\(env.pool)/filler-rest")
        try await Self.unfillCompletely(env)
    }

    /// Runs SQL through psql, killed after `seconds`: a statement waiting on a full disk returns.
    static func boundedPSQL(_ url: String, _ sql: String, seconds: Int = 20) async throws -> CommandResult {
        try await Command.run(
            "timeout", ["-k", "5", String(seconds), "psql", url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
            environment: ["PGOPTIONS": "-c statement_timeout=\(seconds * 1000 / 2)"], check: false)
    }

    /// Runs the CLI with `--json`, killed after `seconds`.
    static func boundedCLI(_ env: TestEnvironment, _ arguments: [String], seconds: Int = 90) async throws -> CLIResult {
        try await withThrowingTaskGroup(of: CLIResult?.self) { group in
            group.addTask { try await env.cli(arguments + ["--json"]) }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let result = first else { throw TestFailure("`branch \(arguments.joined(separator: " "))` did not answer within \(seconds) s") }
            return result
        }
    }

    /// The stable code of a failed `--json` command.
    static func errorCode(of result: CLIResult) -> String? {
        struct Printed: Decodable { struct Error: Decodable { let code: String }; let error: Error }
        return (try? JSONDecoder().decode(Printed.self, from: Data(result.stdout.utf8)))?.error.code
    }

    /// Files under `directory` whose names end in one of `suffixes` (temporaries left behind).
    static func leftovers(under directory: String, endingIn suffixes: [String]) -> [String] {
        let names = FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? []
        return names.filter { name in suffixes.contains { name.hasSuffix($0) } }
    }

    @Test("with the pool full WAL archiving fails without harm; once space is freed it catches up and a point-in-time branch works")
    func walArchiving() async throws {
        try await TestEnvironment.with(poolSize: "1G", serveArguments: ["--free-space-reserve", "100M"]) { env in
            let url = try await env.linkedProject()
            let port = try #require(try await env.json(BranchList.self, "list").branches.first { $0.name == "main" }).port
            let superuser = "host=\(env.pool)/run/pg/\(port) port=\(port) user=postgres dbname=app"
            try await env.psql(url, "create table events(id int, note text); insert into events values (1, 'before the pool filled')")
            let instant = try await PointInTimeTests.waitForNextSecond()
            let wal = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(env.pool)/projects/app/wal").first)
            let archive = "\(env.pool)/projects/app/wal/\(wal)"

            try await Self.fillCompletely(env)
            // Completing the segment that holds row 1 makes Postgres archive it into the full pool.
            // Whatever Postgres does on a full disk, the call returns.
            let switched = try await Self.boundedPSQL(superuser, "select pg_walfile_name(pg_switch_wal())")
            print("switch: \(switched.status) \(switched.stdout) \(switched.stderr)")
            try await Task.sleep(for: .seconds(3))
            let archiver = try await Self.boundedPSQL(superuser, "select archived_count, failed_count, last_failed_wal from pg_stat_archiver")
            print("archiver: \(archiver.status) \(archiver.stdout) \(archiver.stderr)")
            // A point-in-time branch is refused while the pool is full, promptly and with the pool's code.
            let refused = try await Self.boundedCLI(env, ["create", "past", "--from", "main", "--at", PointInTimeTests.iso(instant)])
            #expect(Self.errorCode(of: refused) == "pool_full", "\(refused.stdout) \(refused.stderr)")
            // Nothing half-archived: no temporary left in the lineage's archive, no catalog change.
            #expect(Self.leftovers(under: archive, endingIn: [".tmp"]).isEmpty)
            #expect(try await env.json(BranchList.self, "list").branches.map(\.name) == ["main"])
            #expect(try await env.subvolumes("work").isEmpty)

            try await Self.unfillCompletely(env)
            // Postgres retries archiving on its own; the segment holding row 1 reaches the archive.
            let segment = switched.succeeded ? switched.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
            let deadline = ContinuousClock.now + .seconds(90)
            var caughtUp = false
            while ContinuousClock.now < deadline {
                let failing = try await Self.boundedPSQL(superuser, "select last_archived_wal >= coalesce(last_failed_wal, '') from pg_stat_archiver")
                if failing.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "t",
                    segment.map({ FileManager.default.fileExists(atPath: "\(archive)/\($0).zst") }) ?? true
                {
                    caughtUp = true
                    break
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(caughtUp, "archiving caught up once space was freed")
            #expect(Self.leftovers(under: archive, endingIn: [".tmp"]).isEmpty)

            try await env.psql(url, "insert into events values (2, 'after space was freed')")
            let past = try await Self.boundedCLI(env, ["create", "past", "--from", "main", "--at", PointInTimeTests.iso(instant)], seconds: 180)
            #expect(past.succeeded, "\(past.stdout) \(past.stderr)")
            #expect(try await env.psql(try await env.cli("url", "past").output, "select string_agg(id::text, ',' order by id) from events") == "1")
            #expect(try await env.psql(url, "select string_agg(id::text, ',' order by id) from events") == "1,2")
        }
    }

    @Test("a backup into a directory on the pool's filesystem that fills it fails with pool_full, leaves nothing behind, and the catalog and branches stay intact")
    func backupFillsPool() async throws {
        try await TestEnvironment.with(poolSize: "1G", start: false) { env in
            let backups = "\(env.pool)/backups"
            try env.configureBackups(target: "dir:\(backups)")
            try await env.startService(arguments: ["--free-space-reserve", "20M"])
            let url = try await env.linkedProject()
            _ = try await env.json(BranchResult.self, "create", "feature")
            // Incompressible rows, so the encrypted, compressed backup is as large as the data.
            _ = try await env.psql(url, """
                create table noise as select g, decode(string_agg(md5(g::text || ':' || i::text), ''), 'hex') as bytes
                from generate_series(1, 3000) g, generate_series(1, 1000) i group by g
                """)
            _ = try await env.cli("snapshot", "create")
            let snapshotsBefore = try await env.json(SnapshotList.self, "snapshot", "list").snapshots.map(\.id).sorted()
            let status = try await env.json(StatusResponse.self, "status")
            // Room for the reserve and a part of the backup, not all of it.
            try await DiskGuardTests.fill(env, leaving: UInt64(status.pool.reserveBytes) + (25 << 20))

            let failed = try await Self.boundedCLI(env, ["backup", "create"], seconds: 180)
            #expect(!failed.succeeded, "\(failed.stdout)")
            #expect(Self.errorCode(of: failed) == "pool_full", "\(failed.stdout) \(failed.stderr)")
            #expect(failed.stdout.contains("branch backup delete") || failed.stdout.contains("branch delete"), "a hint of what to free: \(failed.stdout)")
            // In the catalog: one backup, failed, with its reason; none running or complete.
            let listed = try await env.json(BackupList.self, "backup", "list").backups
            #expect(listed.map(\.status) == ["failed"], "\(listed)")
            #expect(listed.first?.error?.contains("No space left") == true, "\(listed)")
            // On disk: no data object, manifest or partial file of it, and no backup snapshot left.
            let files = FileManager.default.enumerator(atPath: backups)?.compactMap { $0 as? String } ?? []
            #expect(files.isEmpty, "\(files)")
            #expect(try await env.json(SnapshotList.self, "snapshot", "list").snapshots.map(\.id).sorted() == snapshotsBefore)
            #expect(try await env.subvolumes("work").isEmpty)
            // The catalog and the branches are intact and usable.
            #expect(try await env.psql(url, "select count(*) from noise") == "3000")
            #expect(try await env.json(BranchList.self, "list").branches.map(\.name).sorted() == ["feature", "main"])
            #expect(try await env.psql(try await env.cli("url", "feature").output, "select 1") == "1")

            try await DiskGuardTests.unfill(env)
            let made = try await Self.boundedCLI(env, ["backup", "create"], seconds: 180)
            #expect(made.succeeded, "\(made.stdout) \(made.stderr)")
            let after = try await env.json(BackupList.self, "backup", "list").backups
            #expect(after.map(\.status).sorted() == ["complete", "failed"], "\(after)")
            let complete = try #require(after.first { $0.status == "complete" })
            let verified = try await Self.boundedCLI(env, ["backup", "verify", complete.id], seconds: 180)
            #expect(verified.succeeded, "\(verified.stdout) \(verified.stderr)")
        }
    }
}
