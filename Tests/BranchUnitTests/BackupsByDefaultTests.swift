@testable import BranchBackup
@testable import BranchCatalog
@testable import BranchEngine
import BranchCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Backups by default: the quiet hour, the default schedule, when a verification is due, the key file")
struct BackupsByDefaultUnitTests {
    @Test("the offset is stable, in 0..<120 minutes, and spreads fifty projects over the window")
    func quietHourOffset() throws {
        #expect(DefaultBackupSchedule.offsetMinutes(for: "app") == DefaultBackupSchedule.offsetMinutes(for: "app"))
        let names = (1...50).map { "project-\($0)" }
        let offsets = names.map(DefaultBackupSchedule.offsetMinutes(for:))
        #expect(offsets.allSatisfy { (0..<120).contains($0) })
        #expect(Set(offsets).count >= 35, "fifty projects start at \(Set(offsets).count) distinct minutes")
        // The most projects starting in one minute stays small.
        let crowd = Dictionary(grouping: offsets, by: { $0 }).values.map(\.count).max() ?? 0
        #expect(crowd <= 4)
    }

    @Test("the default backup schedule is daily between 03:00 and 04:59 UTC, GFS 7 daily, 4 weekly, 6 monthly")
    func scheduleDefaults() throws {
        let record = DefaultBackupSchedule.record(for: try ResourceName(validating: "app"))
        #expect(record.kind == .backup && record.enabled && record.webhookURL == nil && record.lastRunAt == nil)
        #expect((record.keepLast, record.hourly, record.daily, record.weekly, record.monthly) == (1, 0, 7, 4, 6))
        let cron = try CronSchedule(parsing: record.expression)
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let first = cron.next(after: start)
        let second = cron.next(after: first)
        #expect(second.timeIntervalSince(first) == 86_400, "once a day")
        let hour = calendar.component(.hour, from: first)
        let minute = calendar.component(.minute, from: first)
        #expect((3...4).contains(hour))
        #expect((hour - 3) * 60 + minute == DefaultBackupSchedule.offsetMinutes(for: "app"))
    }

    @Test("a verification is due one interval after the last, or after the first backup; it takes the newest backup")
    func verificationDue() {
        let day: TimeInterval = 86_400
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let backups = [(id: "old", at: now.addingTimeInterval(-10 * day)), (id: "new", at: now.addingTimeInterval(-day))]
        #expect(VerificationPlan.due(backups: [], lastVerifiedAt: nil, interval: 7 * day, now: now) == nil)
        // Never verified: due once the first backup is an interval old.
        #expect(VerificationPlan.due(backups: backups, lastVerifiedAt: nil, interval: 7 * day, now: now) == "new")
        #expect(VerificationPlan.due(backups: [backups[1]], lastVerifiedAt: nil, interval: 7 * day, now: now) == nil)
        // Verified three days ago: not yet; eight days ago: due.
        #expect(VerificationPlan.due(backups: backups, lastVerifiedAt: now.addingTimeInterval(-3 * day), interval: 7 * day, now: now) == nil)
        #expect(VerificationPlan.due(backups: backups, lastVerifiedAt: now.addingTimeInterval(-8 * day), interval: 7 * day, now: now) == "new")
    }

    @Test("the backup key file is made once beside the master key (0600) and read back after")
    func keyFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("branch-backup-key-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = BackupKey.defaultPath(besideMasterKey: "\(directory)/etc/branch/master.key")
        #expect(path == "\(directory)/etc/branch/backup.key")
        #expect(BackupKey.defaultPath(besideMasterKey: "/etc/branch/master.key") == "/etc/branch/backup.key")
        let (made, created) = try BackupKey.loadOrCreate(path: path)
        #expect(created)
        #expect((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int == 0o600)
        let (read, again) = try BackupKey.loadOrCreate(path: path)
        #expect(!again && read.id == made.id)
        // What `backup keygen` prints: base64 of 32 bytes, one line.
        #expect(try BackupKey.load(file: path, environment: [:]).base64 == made.base64)
        chmod(path, 0o644)
        #expect(throws: BackupError.self) { _ = try BackupKey.loadOrCreate(path: path) }
    }

    @Test("a project's last verification is kept, replaced, and gone with the project")
    func verificationRecords() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("branch-verify-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let catalog = try Catalog(path: "\(directory)/catalog.sqlite")
        let app = try ResourceName(validating: "app")
        let project = ProjectRecord(
            name: app, state: .ready, pgMajor: 16, role: "app", database: "app", password: "pw", verifier: "v",
            checkedOut: try ResourceName(validating: "main"), createdAt: Date(), operationID: "op")
        try await catalog.write { try $0.insert(project) }
        let first = VerificationRecord(project: app, backupID: "b1", at: Date(timeIntervalSince1970: 1_800_000_000), ok: true, error: nil, durationMs: 12)
        try await catalog.write { try $0.save(first) }
        #expect(try await catalog.read { try $0.verification(app) } == first)
        let second = VerificationRecord(project: app, backupID: "b2", at: Date(timeIntervalSince1970: 1_800_000_100), ok: false, error: "bad", durationMs: 3)
        try await catalog.write { try $0.save(second) }
        #expect(try await catalog.read { try $0.verifications() } == [second])
        // A project that is gone records nothing, and deleting one removes its row.
        try await catalog.write { try $0.save(VerificationRecord(project: try ResourceName(validating: "gone"), backupID: "x", at: Date(), ok: true, error: nil, durationMs: 1)) }
        try await catalog.write { try $0.deleteProject(app) }
        #expect(try await catalog.read { try $0.verifications() }.isEmpty)
    }
}
