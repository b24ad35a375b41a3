import BranchAPI
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchStorage
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
        try await DiskGuardTests.unfill(env)
    }

    /// Runs SQL through psql, killed after `seconds`: a statement waiting on a full disk returns.
    /// (No statement_timeout in PGOPTIONS: the pooler refuses startup options.)
    static func boundedPSQL(_ url: String, _ sql: String, seconds: Int = 20) async throws -> CommandResult {
        try await Command.run(
            "timeout", ["-k", "5", String(seconds), TestEnvironment.psqlBinary, url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check: false)
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

    /// Files under `directory` whose names end in `suffix` (temporaries left behind).
    static func leftovers(under directory: String, endingIn suffix: String) -> [String] {
        filesUnder(directory).filter { $0.hasSuffix(suffix) }
    }

    /// Polls `condition` every half second until it holds or `seconds` pass; returns whether it held.
    static func eventually(within seconds: Int, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(500))
        }
        return false
    }

    @Test("with the pool full WAL cannot be written or archived, without harm; once space is freed archiving catches up and a point-in-time branch works")
    func walArchiving() async throws {
        try await TestEnvironment.with(poolSize: "1G", serveArguments: ["--free-space-reserve", "100M"]) { env in
            let url = try await env.linkedProject()
            let port = try #require(try await env.json(BranchList.self, "list").branches.first { $0.name == "main" }).port
            let superuser = "host=\(env.pool)/run/pg/\(port) port=\(port) user=postgres dbname=app"
            try await env.psql(url, "create table events(id int, note text); insert into events values (1, 'before the pool filled')")
            let instant = try await PointInTimeTests.waitForNextSecond()
            let lineage = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(env.pool)/projects/app/wal").first)
            let archive = "\(env.pool)/projects/app/wal/\(lineage)"

            try await Self.fillCompletely(env)
            // Completing the segment that holds row 1 needs a WAL write, and a full pool has no room
            // for it: Postgres stops with a PANIC (its answer to a failed WAL write), and cannot start
            // again until there is space. Whatever happens, the call returns.
            _ = try await Self.boundedPSQL(superuser, "select pg_walfile_name(pg_switch_wal())")
            // A point-in-time branch is refused at once, with the pool's code.
            let refused = try await Self.boundedCLI(env, ["create", "past", "--from", "main", "--at", PointInTimeTests.iso(instant)])
            #expect(Self.errorCode(of: refused) == "pool_full", "\(refused.stdout) \(refused.stderr)")
            // Nothing half-archived (no temporary in the lineage's archive), no half-made branch.
            #expect(Self.leftovers(under: archive, endingIn: ".tmp").isEmpty)
            #expect(try await env.json(BranchList.self, "list").branches.map(\.name) == ["main"])
            #expect(try await env.subvolumes("work").isEmpty)

            try await Self.unfillCompletely(env)
            // The supervisor starts main again; crash recovery keeps every committed row.
            let back = try await Self.eventually(within: 90) {
                (try? await Self.boundedPSQL(url, "select string_agg(id::text, ',') from events"))?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1"
            }
            #expect(back, "main answers again with its row once space is freed")
            // Archiving catches up: a new switch's segment reaches the archive, so every segment
            // before it did (Postgres archives the oldest first).
            let switched = try await Self.boundedPSQL(superuser, "select pg_walfile_name(pg_switch_wal())")
            #expect(switched.succeeded, "\(switched.stderr)")
            let segment = switched.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let archived = try await Self.eventually(within: 60) { FileManager.default.fileExists(atPath: "\(archive)/\(segment).zst") }
            #expect(archived, "segment \(segment) archived once space was freed; archive: \(filesUnder(archive))")
            #expect(Self.leftovers(under: archive, endingIn: ".tmp").isEmpty)

            try await env.psql(url, "insert into events values (2, 'after space was freed')")
            let past = try await Self.boundedCLI(env, ["create", "past", "--from", "main", "--at", PointInTimeTests.iso(instant)], seconds: 180)
            #expect(past.succeeded, "\(past.stdout) \(past.stderr)")
            #expect(try await env.psql(try await env.cli("url", "past").output, "select string_agg(id::text, ',' order by id) from events") == "1")
            #expect(try await env.psql(url, "select string_agg(id::text, ',' order by id) from events") == "1,2")
        }
    }

    @Test("a catalog on a completely full filesystem gets its reserve back and records the change; with none left, pool_full and reads still answer")
    func catalogReserve() async throws {
        let root = "/var/tmp/branch-tests/catalog-full-\(Identifiers.shortID(length: 10))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try await Command.run("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", root])
        do {
            try await Self.fillCatalogFilesystem(root)
        } catch {
            _ = try? await Command.run("umount", [root])
            throw error
        }
        _ = try await Command.run("umount", [root])
    }

    /// The body of `catalogReserve`, on the tmpfs at `root`.
    static func fillCatalogFilesystem(_ root: String) async throws {
        let reserve = EmergencyReserve(path: "\(root)/catalog.reserve", bytes: 512 << 10)
        #expect(reserve.ensure(freeBytes: PoolStorage.freeBytes(root)))
        let catalog = try Catalog(path: "\(root)/catalog.sqlite", freeSpace: { reserve.release() })
        _ = try await Command.run("dd", ["if=/dev/zero", "of=\(root)/filler", "bs=16k"], check: false)
        #expect(PoolStorage.freeBytes(root) < 64 << 10, "the filesystem is full")

        try await catalog.setSetting("grown", String(repeating: "x", count: 300_000))
        #expect(!reserve.isInPlace, "the write needed the reserve")
        #expect(try await catalog.setting("grown")?.count == 300_000)
        do {
            try await catalog.setSetting("more", String(repeating: "y", count: 800_000))
            Issue.record("a write on a full filesystem with no reserve left succeeded")
        } catch let error as CatalogError {
            #expect(error.code == .poolFull, "\(error)")
        }
        #expect(try await catalog.setting("grown")?.count == 300_000, "reads still answer")
        #expect(try await catalog.setting("more") == nil, "the failed write left nothing")
    }

    @Test("the archive command on a full filesystem fails and leaves no temporary; with space it archives the same segment")
    func archiveCommandOnFullFilesystem() async throws {
        let root = "/var/tmp/branch-tests/archive-full-\(Identifiers.shortID(length: 10))"
        let archive = "\(root)/archive"
        try FileManager.default.createDirectory(atPath: archive, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let script = "\(root)/\(WALArchive.archiveScriptName)"
        try Files.writeAtomically(WALArchive.archiveScript, to: script, mode: 0o755)
        // A segment of random bytes, so its compressed copy is as large as it is.
        let segment = "\(root)/000000010000000000000003"
        _ = try await Command.run("dd", ["if=/dev/urandom", "of=\(segment)", "bs=1M", "count=4"])
        let name = (segment as NSString).lastPathComponent

        _ = try await Command.run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", archive])
        do {
            let full = try await Command.run(script, [segment, name, archive], check: false)
            #expect(!full.succeeded)
            #expect(filesUnder(archive).isEmpty, "\(filesUnder(archive))")
            // More room: Postgres's retry archives the segment whole.
            _ = try await Command.run("mount", ["-o", "remount,size=16m", archive])
            let retried = try await Command.run(script, [segment, name, archive], check: false)
            #expect(retried.succeeded, "\(retried.stderr)")
            #expect(filesUnder(archive) == ["\(name).zst"])
            let restored = try await Command.run("sh", ["-c", "zstd -dcq '\(archive)/\(name).zst' | cmp -s - '\(segment)'"], check: false)
            #expect(restored.succeeded)
        } catch {
            _ = try? await Command.run("umount", [archive])
            throw error
        }
        _ = try await Command.run("umount", [archive])
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
            #expect(filesUnder(backups).isEmpty, "\(filesUnder(backups))")
            #expect(try await env.json(SnapshotList.self, "snapshot", "list").snapshots.map(\.id).sorted() == snapshotsBefore)
            #expect(try await env.subvolumes("work").isEmpty)
            // The catalog and the branches are intact and usable at once: the failed upload commits
            // the filesystem after deleting its partial file, so Btrfs has given its space back
            // (else a new connection could fail to write Postgres's relcache init file for up to 30 s).
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
