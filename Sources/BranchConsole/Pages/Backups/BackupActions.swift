import BranchAPI
import Foundation
import Hummingbird

/// The forms of the snapshots & backups page: each calls one operation (audited, as the signed-in
/// user) and answers with a redirect and a message, or the job page for long ones.
struct BackupActions: Sendable {
    let environment: ConsoleEnvironment

    func takeSnapshot(project: String, request: Request) async throws -> Response {
        let form = try await environment.form(request)
        let branch = form.text("branch")
        let back = BackupsPages.href(project: project, branch: form.text("return_branch"))
        do {
            let result = try await environment.call("createSnapshot", project: project, changes: true, target: (branch ?? "checked-out branch") + (form.text("name").map { " as \($0)" } ?? "")) {
                try await $0.createSnapshot(.init(path: .init(project: project), body: .json(.init(branch: branch, name: form.text("name"))))).created.body.json
            }
            let snapshot = result.snapshot
            return environment.redirect(back, flash: "Snapshot \(snapshot.name.map { "\($0) (\(snapshot.id))" } ?? snapshot.id) of \(snapshot.sourceBranch) taken in \(Self.milliseconds(result.operation.durationMs)).")
        } catch let failure as ConsoleFailure where !failure.isRefusal {
            return environment.redirect(back, flash: Self.describe(failure), error: true)
        }
    }

    func deleteSnapshot(project: String, snapshot: String, request: Request) async throws -> Response {
        let form = try await environment.form(request)
        let back = BackupsPages.href(project: project, branch: form.text("return_branch"))
        do {
            _ = try await environment.call("deleteSnapshot", project: project, changes: true, target: "snapshot \(snapshot)") {
                try await $0.deleteSnapshot(.init(path: .init(project: project, snapshot: snapshot))).ok.body.json
            }
            return environment.redirect(back, flash: "Deleted snapshot \(snapshot).")
        } catch let failure as ConsoleFailure where !failure.isRefusal {
            return environment.redirect(back, flash: Self.describe(failure), error: true)
        }
    }

    /// `pinned=on` pins the snapshot (retention keeps it), anything else unpins it.
    func pinSnapshot(project: String, snapshot: String, request: Request) async throws -> Response {
        let form = try await environment.form(request)
        let back = BackupsPages.href(project: project, branch: form.text("return_branch"))
        let pinned = form["pinned"] == "on"
        do {
            _ = try await environment.call("updateSnapshot", project: project, changes: true, target: "snapshot \(snapshot)") {
                try await $0.updateSnapshot(.init(path: .init(project: project, snapshot: snapshot), body: .json(.init(pinned: pinned)))).ok.body.json
            }
            return environment.redirect(
                back, flash: pinned ? "Pinned snapshot \(snapshot): retention keeps it." : "Unpinned snapshot \(snapshot): its schedule's retention decides again.")
        } catch let failure as ConsoleFailure where !failure.isRefusal {
            return environment.redirect(back, flash: Self.describe(failure), error: true)
        }
    }

    func setSchedule(project: String, kind: String, request: Request) async throws -> Response {
        let form = try await environment.form(request)
        let back = BackupsPages.href(project: project, branch: form.text("return_branch"))
        guard let expression = form.text("expression") else {
            return environment.redirect(back, flash: "A schedule needs a cron expression, e.g. 0 * * * *.", error: true)
        }
        let counts = ["daily", "hourly", "keep_last", "monthly", "weekly"].map { form.text($0).flatMap(Int.init) }
        do {
            let set = try await environment.call("setSchedule", project: project, changes: true, target: "\(kind) \(expression)") {
                try await $0.setSchedule(.init(
                    path: .init(project: project, kind: kind),
                    body: .json(.init(
                        daily: counts[0], enabled: true, expression: expression, hourly: counts[1], keepLast: counts[2],
                        monthly: counts[3], weekly: counts[4])))).ok.body.json
            }
            return environment.redirect(back, flash: "\(kind.capitalized) schedule: \(set.expression); next run \(set.nextRunAt.map(Formatting.utc) ?? "—").")
        } catch let failure as ConsoleFailure where !failure.isRefusal {
            return environment.redirect(back, flash: Self.describe(failure), error: true)
        }
    }

    func scheduleOff(project: String, kind: String, request: Request) async throws -> Response {
        let form = try await environment.form(request)
        let back = BackupsPages.href(project: project, branch: form.text("return_branch"))
        do {
            _ = try await environment.call("deleteSchedule", project: project, changes: true, target: kind) {
                try await $0.deleteSchedule(.init(path: .init(project: project, kind: kind))).ok.body.json
            }
            return environment.redirect(back, flash: "Removed the \(kind) schedule; the snapshots and backups it made stay.")
        } catch let failure as ConsoleFailure where !failure.isRefusal {
            return environment.redirect(back, flash: Self.describe(failure), error: true)
        }
    }

    func backUpNow(project: String, request: Request) async throws -> Response {
        let form = try await environment.form(request)
        let back = BackupsPages.href(project: project, branch: form.text("return_branch"))
        do {
            let job = try await environment.call("createBackup", project: project, changes: true, target: form.text("branch") ?? "checked-out branch") {
                try await $0.createBackup(.init(path: .init(project: project), body: .json(.init(branch: form.text("branch"))))).accepted.body.json
            }
            return environment.redirect(JobPage.href(project: project, job: job.id), flash: "Backup started.")
        } catch let failure as ConsoleFailure where !failure.isRefusal {
            return environment.redirect(back, flash: Self.describe(failure), error: true)
        }
    }

    func verify(project: String, backup: String, request: Request) async throws -> Response {
        _ = try await environment.form(request)
        try await BackupDetailPage.requireBackup(backup, of: project, environment: environment)
        do {
            let job = try await environment.call("verifyBackup", project: project, changes: true, target: "backup \(backup)") {
                try await $0.verifyBackup(.init(path: .init(backup: backup))).accepted.body.json
            }
            return environment.redirect(JobPage.href(project: project, job: job.id), flash: "Verification of \(backup) started.")
        } catch let failure as ConsoleFailure where !failure.isRefusal {
            return environment.redirect(BackupDetailPage.href(project: project, backup: backup), flash: Self.describe(failure), error: true)
        }
    }

    func deleteBackup(project: String, backup: String, request: Request) async throws -> Response {
        _ = try await environment.form(request)
        try await BackupDetailPage.requireBackup(backup, of: project, environment: environment)
        do {
            _ = try await environment.call("deleteBackup", project: project, changes: true, target: "backup \(backup)") {
                try await $0.deleteBackup(.init(path: .init(backup: backup))).ok.body.json
            }
            return environment.redirect(BackupsPages.href(project: project, branch: nil), flash: "Deleted backup \(backup) from the target.")
        } catch let failure as ConsoleFailure where !failure.isRefusal {
            return environment.redirect(BackupDetailPage.href(project: project, backup: backup), flash: Self.describe(failure), error: true)
        }
    }

    func restoreBackup(project: String, backup: String, request: Request) async throws -> Response {
        let form = try await environment.form(request)
        try await BackupDetailPage.requireBackup(backup, of: project, environment: environment)
        let back = RestorePages.href(project: project, restore: "backup:\(backup)")
        guard let name = form.text("as") else { return environment.redirect(back, flash: "Name the new branch.", error: true) }
        guard form["confirm"] == "on" else {
            return environment.redirect(back, flash: "Tick the box to confirm you read what the restore does.", error: true)
        }
        do {
            let job = try await environment.call("restoreBackup", project: project, changes: true, target: "\(name) from backup \(backup)") {
                try await $0.restoreBackup(.init(path: .init(backup: backup), body: .json(.init(_as: name, project: form.text("target_project"))))).accepted.body.json
            }
            return environment.redirect(JobPage.href(project: project, job: job.id), flash: "Restore of \(backup) as \(name) started.")
        } catch let failure as ConsoleFailure where !failure.isRefusal {
            return environment.redirect(back, flash: Self.describe(failure), error: true)
        }
    }

    static func describe(_ failure: ConsoleFailure) -> String {
        "\(failure.message)\(failure.hint.map { " \($0)" } ?? "") (\(failure.code))"
    }

    static func milliseconds(_ value: Double) -> String { String(format: "%.0f ms", value) }
}

extension ConsoleFailure {
    /// A permission refusal or an unknown project: answered with the error page (403/404), not a
    /// message on the form's page.
    var isRefusal: Bool { status == 403 || status == 404 || status == 401 }
}
