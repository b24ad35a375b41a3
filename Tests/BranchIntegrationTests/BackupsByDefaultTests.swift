import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

typealias BackupKeyReveal = Components.Schemas.BackupKeyReveal
typealias BackupKeyStatus = Components.Schemas.BackupKeyStatus

/// Issue 16: backups on from the first start (a key made beside the master key, a warning until
/// its copy off the server is acknowledged, a daily schedule per project) and proven by scheduled
/// verifications.
@Suite("Backups by default: the key at first start, daily schedules, scheduled verification", .serialized)
struct BackupsByDefaultTests {
    @Test("the first start makes the backup key beside the master key (0600), warns until acknowledged, and reuses it; an explicit key wins")
    func keyAtFirstStart() async throws {
        try await TestEnvironment.with { env in
            let path = "\(env.root)/backup.key"
            let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
            #expect(mode == 0o600, "made by the first start, owner-only")
            let fileKey = try #require(Files.read(path)?.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(Data(base64Encoded: fileKey)?.count == 32, "the format `backup keygen` writes")
            #expect(Files.read(env.serviceLog)?.contains("WARNING: copy the backup key off this server") == true)

            // Status warns, with the command that prints the key.
            var status = try await env.json(StatusResponse.self, "status")
            let key = try #require(status.backupKey)
            #expect(key.location == path)
            #expect(key.acknowledgedAt == nil)
            #expect(key.warning?.contains("branch backup key show") == true)
            #expect(try await env.cli("status").stdout.contains("branch backup key acknowledge"))

            // The key prints, and backups work without any configuration.
            let revealed = try await env.json(BackupKeyReveal.self, "backup", "key", "show")
            #expect(revealed.key == fileKey)
            #expect(revealed.id == key.id)
            try await env.linkedProject()
            #expect(try await env.json(JobInfo.self, "backup", "create").status == "succeeded")

            // Acknowledged: no more warning, also after a restart, which reuses the key file.
            let acknowledged = try await env.json(BackupKeyStatus.self, "backup", "key", "acknowledge")
            #expect(acknowledged.warning == nil && acknowledged.acknowledgedAt != nil)
            #expect(try await env.json(StatusResponse.self, "status").backupKey?.warning == nil)
            #expect(!(try await env.cli("status").stdout.contains("branch backup key acknowledge")))
            #expect(await env.stopService() == 0)
            try await env.startService()
            #expect(Files.read(path)?.trimmingCharacters(in: .whitespacesAndNewlines) == fileKey, "the same key")
            status = try await env.json(StatusResponse.self, "status")
            #expect(status.backupKey?.id == key.id)
            #expect(status.backupKey?.warning == nil, "the acknowledgement survives a restart")

            // An explicit key file wins, and a new key warns again.
            #expect(await env.stopService() == 0)
            let other = "\(env.root)/other.key"
            try Files.writeAtomically(TestEnvironment.newBackupKey() + "\n", to: other, mode: 0o600)
            try await env.startService(arguments: ["--backup-key-file", other])
            let explicit = try #require(try await env.json(StatusResponse.self, "status").backupKey)
            #expect(explicit.location == other)
            #expect(explicit.id != key.id)
            #expect(explicit.warning != nil)
            #expect(Files.read(path)?.trimmingCharacters(in: .whitespacesAndNewlines) == fileKey, "the default file is left alone")

            // So does BRANCH_BACKUP_KEY.
            #expect(await env.stopService() == 0)
            try await env.startService(environment: ["BRANCH_BACKUP_KEY": TestEnvironment.newBackupKey()])
            #expect(try await env.json(StatusResponse.self, "status").backupKey?.location == "BRANCH_BACKUP_KEY")
        }
    }

    @Test("rotating the key: the new key shown once, in the key file, warned about again; older backups still verify, restore, export and diff with the retired key, sealed in the catalog, after a restart; the next backup is full; BRANCH_BACKUP_KEY is refused")
    func keyRotation() async throws {
        try await TestEnvironment.with { env in
            let path = "\(env.root)/backup.key"
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(id int primary key); insert into t select generate_series(1, 100)")
            let old = try #require(try await env.json(JobInfo.self, "backup", "create").backup)
            let oldKey = try await env.json(BackupKeyReveal.self, "backup", "key", "show")
            _ = try await env.json(BackupKeyStatus.self, "backup", "key", "acknowledge")

            let rotated = try await env.json(BackupKeyReveal.self, "backup", "key", "rotate")
            #expect(rotated.id != oldKey.id && rotated.retiredID == oldKey.id && rotated.location == path)
            #expect(Files.read(path)?.trimmingCharacters(in: .whitespacesAndNewlines) == rotated.key, "the key file holds the new key")
            #expect((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int == 0o600)
            let status = try #require(try await env.json(StatusResponse.self, "status").backupKey)
            #expect(status.id == rotated.id && status.warning != nil, "a new key warns again until its copy is acknowledged")
            #expect(status.retired?.map(\.id) == [oldKey.id] && status.retired?.first?.backups == 1)

            // The next backup is a new full chain under the new key.
            try await env.psql(main, "insert into t values (101)")
            let fresh = try #require(try await env.json(JobInfo.self, "backup", "create").backup)
            #expect(fresh.kind == "full" && fresh.parentID == nil && fresh.keyID == rotated.id)

            // After a restart the retired key still reads the backup made with it: it is kept in
            // the catalog, sealed under the master key, never in clear.
            #expect(await env.stopService() == 0)
            #expect(!SecretsAtRestTests.catalogFilesContain(env, oldKey.key), "the retired key is sealed in the catalog")
            try await env.startService()
            #expect(try await env.json(JobInfo.self, "backup", "verify", old.id).verify?.ok == true)
            #expect(try await env.json(JobInfo.self, "backup", "restore", old.id, "--as", "before").branch?.name == "before")
            #expect(try await env.psql(try await env.cli("url", "before").output, "select count(*) from t") == "100")
            #expect(try await env.cli("backup", "export", old.id).stdout.contains("CREATE TABLE public.t ("))
            #expect(try await env.diff("backup:\(old.id)", "main").end?.rowsAdded == 1)
            #expect(Set(try await env.json(BackupList.self, "backup", "list", "--remote").backups.map(\.id)) == [old.id, fresh.id])
            let audit = try await env.cli("audit", "--jsonl").stdout
            #expect(audit.contains("\"rotateBackupKey\""), "the rotation is in the audit log")
            #expect(!audit.contains(rotated.key) && !(Files.read(env.serviceLog) ?? "").contains(rotated.key), "the key is in no log")

            // A key from BRANCH_BACKUP_KEY is the operator's to change: refused, nothing changes.
            #expect(await env.stopService() == 0)
            try await env.startService(environment: ["BRANCH_BACKUP_KEY": TestEnvironment.newBackupKey()])
            #expect(try await env.errorCode("backup", "key", "rotate") == "backup_key_not_rotatable")
            #expect(Files.read(path)?.trimmingCharacters(in: .whitespacesAndNewlines) == rotated.key)
            #expect(try await env.json(JobInfo.self, "backup", "verify", old.id).verify?.ok == true, "retired keys stay, whatever the current key")
            #expect(try await env.errorCode("backup", "verify", fresh.id) == "backup_wrong_key", "the rotated key was not kept: it is in the file")
        }
    }

    @Test("every new project gets a daily backup at a quiet hour with GFS retention; --no-backups and --no-default-backups opt out")
    func defaultSchedule() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            let schedules = try await env.json(ScheduleList.self, "schedule", "show", "-p", "app").schedules
            let backup = try #require(schedules.first { $0.kind == "backup" })
            let fields = backup.expression.split(separator: " ")
            #expect(fields.count == 5 && fields[2...] == ["*", "*", "*"], "daily: \(backup.expression)")
            #expect(["3", "4"].contains(fields[1]) && (0..<60).contains(Int(fields[0]) ?? -1), "03:00-04:59 UTC: \(backup.expression)")
            #expect(backup.enabled && backup.daily == 7 && backup.weekly == 4 && backup.monthly == 6)
            #expect(backup.nextRunAt != nil)
            #expect(try await env.json(ProjectInfo.self, "project", "show", "app").backupSchedule == backup.expression)
            let status = try await env.json(StatusResponse.self, "status")
            #expect(status.backups?.first { $0.project == "app" }?.schedule == backup.expression)

            _ = try await env.json(ProjectCreated.self, "project", "create", "quiet", "--no-backups")
            #expect(try await env.json(ScheduleList.self, "schedule", "show", "-p", "quiet").schedules.map(\.kind) == ["snapshot"])
            #expect(try await env.json(ProjectInfo.self, "project", "show", "quiet").backupSchedule == nil)

            // The instance setting: new projects get none, existing ones keep theirs.
            #expect(await env.stopService() == 0)
            try await env.startService(arguments: ["--no-default-backups"])
            _ = try await env.json(ProjectCreated.self, "project", "create", "later")
            #expect(try await env.json(ScheduleList.self, "schedule", "show", "-p", "later").schedules.map(\.kind) == ["snapshot"])
            #expect(try await env.json(ScheduleList.self, "schedule", "show", "-p", "app").schedules.map(\.kind) == ["snapshot", "backup"])
        }
    }

    @Test("the newest backup is verified on schedule; the result shows in status, backup list and project; a failure alerts")
    func scheduledVerification() async throws {
        try await TestEnvironment.with(poolSize: "2G", serveArguments: ["--verify-interval", "4s"]) { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(g int primary key); insert into t select generate_series(1, 1000)")
            let backup = try #require(try await env.json(JobInfo.self, "backup", "create").backup)

            // Within an interval of the backup, the scheduled run restores and checks it.
            let passed = try await Self.waitForVerification(env) { $0.ok }
            #expect(passed.backup == backup.id)
            let list = try await env.json(BackupList.self, "backup", "list")
            #expect(list.verifications?.first { $0.project == "app" }?.ok == true)
            #expect(try await env.json(ProjectInfo.self, "project", "show", "app").lastVerification?.backup == backup.id)
            #expect(try await env.cli("backup", "list").stdout.contains("Last verified restore of app"))
            let row = try #require(try await env.json(StatusResponse.self, "status").backups?.first { $0.project == "app" })
            #expect((row.backupBytes ?? 0) > 0, "a local directory target's space is shown")
            #expect(row.walBytes >= 0 && row.logBytes > 0)

            // The backup is damaged in the target: the next scheduled run fails and raises an alert.
            let path = "\(env.pool).backups/app/\(backup.id)/data"
            let data = try #require(FileManager.default.contents(atPath: path))
            var bytes = [UInt8](data)
            bytes[bytes.count / 2] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let failed = try await Self.waitForVerification(env) { !$0.ok }
            #expect(failed.error?.isEmpty == false)
            let events = try await env.json(EventList.self, "events", "-p", "app").events
            #expect(events.contains { $0.kind == "verification_failed" && $0.project == "app" })
            try data.write(to: URL(fileURLWithPath: path))
        }
    }

    @Test("a scheduled backup that fails raises a backup_failed alert")
    func failedScheduledBackupAlerts() async throws {
        // A target nothing can be written to (no directory can be made in /proc): every backup fails.
        try await TestEnvironment.with(serveArguments: ["--backup-target", "dir:/proc/branch-test-no-target"]) { env in
            try await env.linkedProject()
            _ = try await env.json(ScheduleInfo.self, "schedule", "set", "backup", "--cron", "@every 2s")
            var alerted = false
            for _ in 0..<60 where !alerted {
                try await Task.sleep(for: .seconds(1))
                alerted = try await env.json(EventList.self, "events", "-p", "app").events.contains { $0.kind == "backup_failed" }
            }
            #expect(alerted, "a backup_failed event for app")
            _ = try await env.json(ScheduleList.self, "schedule", "off", "backup")
        }
    }

    /// Polls status until app's last verification satisfies `done` (at most two minutes).
    static func waitForVerification(
        _ env: TestEnvironment, _ done: (Components.Schemas.BackupVerification) -> Bool
    ) async throws -> Components.Schemas.BackupVerification {
        for _ in 0..<240 {
            let status = try await env.json(StatusResponse.self, "status")
            if let last = status.backups?.first(where: { $0.project == "app" })?.lastVerification, done(last) { return last }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw TestFailure("no such verification of app within two minutes")
    }
}
