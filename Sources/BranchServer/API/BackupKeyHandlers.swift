import BranchAPI
import BranchCatalog
import BranchCore
import BranchEngine
import Foundation

/// `POST /api/v1/backup-key/reveal`, `/rotate` and `/acknowledge`: the backup key the first start
/// made, copied off the server, replaced and acknowledged (docs/operations.md). All are
/// instance-admin only and audited (every POST is).
extension APIHandlers {
    func revealBackupKey(_ input: Operations.RevealBackupKey.Input) async throws -> Operations.RevealBackupKey.Output {
        let key = try engine.backups.revealKey()
        return .ok(.init(body: .json(.init(id: key.id, key: key.key, location: key.location))))
    }

    func rotateBackupKey(_ input: Operations.RotateBackupKey.Input) async throws -> Operations.RotateBackupKey.Output {
        let key = try await engine.backups.rotateKey()
        return .ok(.init(body: .json(.init(id: key.id, key: key.key, location: key.location, retiredID: key.retiredID))))
    }

    func acknowledgeBackupKey(_ input: Operations.AcknowledgeBackupKey.Input) async throws -> Operations.AcknowledgeBackupKey.Output {
        .ok(.init(body: .json(.init(try await engine.backups.acknowledgeKey()))))
    }
}

extension Schemas.BackupKeyStatus {
    init(_ status: BranchEngine.BackupKeyStatus) {
        self.init(
            acknowledgedAt: status.acknowledgedAt, id: status.id, location: status.location,
            retired: status.retired.map { .init(backups: $0.backups, id: $0.id, retiredAt: $0.retiredAt) }, warning: status.warning)
    }
}

extension Schemas.BackupVerification {
    init(_ record: VerificationRecord) {
        self.init(
            at: record.at, backup: record.backupID, durationMs: record.durationMs, error: record.error, ok: record.ok,
            project: record.project.rawValue)
    }
}

extension Schemas.ProjectBackupStatus {
    init(_ status: BranchEngine.ProjectBackupStatus) {
        self.init(
            backupBytes: status.backupBytes.map(Int.init), lastBackupAt: status.lastBackupAt, lastBackupStatus: status.lastBackupStatus,
            lastVerification: status.lastVerification.map(Schemas.BackupVerification.init), logBytes: Int(status.logBytes),
            nextBackupAt: status.nextBackupAt, project: status.project, schedule: status.schedule, walBytes: Int(status.walBytes))
    }
}
