import BranchBackup
package import BranchCatalog
import BranchCore
import Foundation
import Logging

extension Backups {
    /// Verifies `chain` (its last backup) and records the outcome as the project's last verified
    /// restore; a failure also raises a `verification_failed` alert.
    func verifyAndRecord(chain: [BackupManifest], key: BackupKey, progress: JobProgress) async throws -> VerifyReport {
        let watch = Stopwatch()
        do {
            let report = try await runVerify(chain: chain, key: key, progress: progress)
            await recordVerification(
                chain.last, ok: report.ok, error: report.ok ? nil : "its data did not check out", durationMs: watch.milliseconds)
            return report
        } catch {
            // A verification cut short by a shutdown proved nothing either way: not a failure.
            if !(error is CancellationError) && !Task.isCancelled {
                await recordVerification(chain.last, ok: false, error: Self.describe(error), durationMs: watch.milliseconds)
            }
            throw error
        }
    }

    /// Keeps the outcome of verifying `backup` as its project's last verification.
    func recordVerification(_ backup: BackupManifest?, ok: Bool, error: String?, durationMs: Double) async {
        guard let backup, let project = try? ResourceName(validating: backup.project) else { return }
        await recordVerification(project: project, backupID: backup.id, ok: ok, error: error, durationMs: durationMs)
    }

    func recordVerification(project: ResourceName, backupID: String, ok: Bool, error: String?, durationMs: Double) async {
        let record = VerificationRecord(project: project, backupID: backupID, at: Date(), ok: ok, error: error, durationMs: durationMs)
        do {
            try await catalog.write { try $0.save(record) }
        } catch {
            logger.error("could not record a verification", metadata: ["project": "\(project)", "error": "\(error)"])
        }
        if !ok {
            await context.alert(AlertEvent(
                .verificationFailed, severity: .critical, project: project.rawValue,
                title: "Verifying backup \(backupID) of \(project) failed",
                detail: "\(error ?? "unknown error"). Until a backup of this project restores and checks out, it may not be restorable: "
                    + "run `branch backup verify \(backupID)` to see why, and `branch backup create -p \(project)` for a new one."))
        }
    }

    /// The last verification of every project (or of one).
    package func verifications(project: String? = nil) async throws -> [VerificationRecord] {
        try await catalog.read { try $0.verifications() }.filter { project == nil || $0.project.rawValue == project }
    }

    static func describe(_ error: any Error) -> String {
        (error as? any ReportableError).map { "\($0.message) [\($0.code)]" } ?? "\(error)"
    }
}
