import BranchAPI
import Foundation
import Hummingbird

/// `/projects/{p}/jobs/{id}`: a backup, restore or verification as it runs. Server-rendered with
/// a Refresh link; `backups.js` reloads it while it runs.
struct JobPage: Sendable {
    let environment: ConsoleEnvironment

    struct Model: Sendable {
        var project: String
        var id: String
        var title: String
        var kind: String
        var status: String
        var running: Bool
        var failed: Bool
        var step: String
        var bytes: String
        var rate: String
        var started: String
        var duration: String
        var error: String?
        var hint: String?
        var refreshHref: String
        var backupHref: String?
        var backupID: String?
        var backupSummary: String?
        var branchHref: String?
        var branchName: String?
        var verify: VerifySummary?
        var backHref: String
    }

    struct VerifySummary: Sendable {
        var ok: Bool
        var text: String
        var chain: String
    }

    static func href(project: String, job: String) -> String {
        "/projects/\(ConsolePath.segment(project))/jobs/\(ConsolePath.segment(job))"
    }

    func render(project: String, job id: String) async throws -> Response {
        let job = try await environment.call("getJob", project: project) { try await $0.getJob(.init(path: .init(job: id))).ok.body.json }
        // A job of another project (or none, for a verification) is shown only to whom may see it.
        if let owner = job.project, owner != project { throw ConsoleFailure.notFound("Job \(id)") }
        let title: String
        switch job.kind {
        case "backup.create": title = "Backup"
        case "backup.restore": title = "Restore from a backup"
        case "backup.verify": title = "Backup verification"
        default: title = job.kind
        }
        let backup = job.backup
        let verify = job.verify.map { report in
            VerifySummary(
                ok: report.ok,
                text: "\(report.chunksVerified) chunks (\(Formatting.bytes(report.bytesVerified))) authenticated; \(report.tables) tables, \(report.rows) rows read"
                    + (report.indexesChecked.map { "; \($0) indexes checked with amcheck" } ?? "") + String(format: " (%.1f s)", report.durationMs / 1000),
                chain: report.chain.joined(separator: " → "))
        }
        let model = Model(
            project: project, id: job.id, title: title, kind: job.kind, status: job.status, running: job.status == "running", failed: job.status == "failed",
            step: job.step ?? (job.status == "running" ? "starting" : "done"), bytes: Formatting.bytes(job.bytesDone),
            rate: Formatting.bytes(Int(job.bytesPerSecond)) + "/s", started: Formatting.utc(job.startedAt),
            duration: job.durationMs.map { String(format: "%.1f s", $0 / 1000) } ?? "running for \(Int(Date().timeIntervalSince(job.startedAt))) s",
            error: job.errorMessage.map { "\($0)\(job.errorCode.map { " (\($0))" } ?? "")" }, hint: job.errorHint,
            refreshHref: Self.href(project: project, job: id),
            backupHref: backup.map { BackupDetailPage.href(project: $0.project, backup: $0.id) }, backupID: backup?.id,
            backupSummary: backup.map { "\($0.parentID == nil ? "full" : "incremental on \($0.parentID ?? "")"), \(Formatting.bytes($0.rawBytes)) sent, \(Formatting.bytes($0.storedBytes)) stored" },
            branchHref: job.branch.map { "/projects/\(ConsolePath.segment($0.project))?branch=\(FormFields.encode($0.name))" }, branchName: job.branch?.name,
            verify: verify, backHref: BackupsPages.href(project: project, branch: nil))
        return try await environment.page(
            "backups-job", title: "\(title) · \(job.status)", project: project, branch: job.backup?.branch ?? job.branch?.name, section: .backups, cli: "branch operations --project \(project)",
            script: "backups.js", body: model)
    }
}
