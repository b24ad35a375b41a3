import BranchBackup
import BranchCatalog
import BranchCore
package import Foundation
import Logging

/// When a project's newest backup is due its scheduled verification: one `interval` after the
/// last verification, or, for a project never verified, after its first backup (so a backup made
/// a minute ago is not restored at once, and a week of backups is proven within the week).
package enum VerificationPlan {
    /// The id of the backup to verify among a project's complete `backups` (id and time), or nil.
    package static func due(backups: [(id: String, at: Date)], lastVerifiedAt: Date?, interval: TimeInterval, now: Date) -> String? {
        guard let newest = backups.max(by: { $0.at < $1.at }), let oldest = backups.min(by: { $0.at < $1.at }) else { return nil }
        let since = lastVerifiedAt ?? oldest.at
        return now.timeIntervalSince(since) >= interval ? newest.id : nil
    }
}

extension Scheduler {
    /// The newest backup of each project whose verification is due at `now` (none when
    /// verification is off or there is no backup key).
    func verificationsDue(now: Date) async -> [BackupRecord] {
        guard let interval = configuration.verifyInterval, context.backupKey != nil,
            let (backups, verifications) = try? await catalog.read({ tx in (try tx.backups(nil), try tx.verifications()) })
        else { return [] }
        let seconds = Double(interval.components.seconds)
        let last = Dictionary(verifications.map { ($0.project, $0.at) }, uniquingKeysWith: max)
        let complete = Dictionary(grouping: backups.filter { $0.status == .complete }, by: \.project)
        return complete.compactMap { project, own in
            let id = VerificationPlan.due(
                backups: own.map { ($0.id, $0.finishedAt ?? $0.startedAt) }, lastVerifiedAt: last[project], interval: seconds, now: now)
            return own.first { $0.id == id }
        }
    }

    /// Restores `backup` into a scratch server and checks it, as `branch backup verify` does, as a
    /// job the scheduler waits for; the outcome becomes the project's last verification, and a
    /// failure raises `verification_failed`.
    func runScheduledVerification(_ backup: BackupRecord) async {
        guard context.backupKey != nil else { return }
        logger.info("scheduled verification", metadata: ["project": "\(backup.project)", "backup": "\(backup.id)"])
        let chain: [BackupManifest]
        let key: BackupKey
        do {
            (chain, key) = try await backups.chain(for: backup.id)
        } catch {
            // The backup cannot even be read from the target: that is a failed verification too.
            await backups.recordVerification(
                project: backup.project, backupID: backup.id, ok: false, error: Backups.describe(error), durationMs: 0)
            return
        }
        let job = await context.jobs.run(kind: .backupVerify, project: backup.project.rawValue) { progress in
            .verify(try await backups.verifyAndRecord(chain: chain, key: key, progress: progress))
        }
        if job.status != .succeeded {
            logger.error(
                "scheduled verification failed",
                metadata: ["project": "\(backup.project)", "backup": "\(backup.id)", "error": "\(job.error?.message ?? "unknown")"])
        }
    }
}
