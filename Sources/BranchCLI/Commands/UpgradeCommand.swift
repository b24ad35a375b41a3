import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

/// `branch upgrade`: self-update to a signed release, or back to the previous binary; waits for
/// the restarted service's verdict (the watchdog's health check, or its rollback).
struct UpgradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade", abstract: "Upgrade the service to a signed release, or roll back to the previous binary.",
        discussion: """
            The service verifies the release (signature, manifest, SHA-256, catalog schema, that the binary runs), backs up \
            the catalog, swaps its binary atomically and restarts; branch servers keep running. If the new service does not \
            answer its health check with the new version in time, it is rolled back automatically.
            """,
        subcommands: [UpgradePostgres.self])

    @Option(help: "The release archive: a file on the server (a relative path is made absolute here) or an http(s) URL.")
    var from: String?

    @Flag(help: "Go back to the previous binary (the one the last upgrade replaced).")
    var rollback = false

    @Flag(help: "Return once the restart has begun, without waiting for the verdict.")
    var noWait = false

    @OptionGroup var output: OutputOptions

    func run() async throws {
        guard (from != nil) != rollback else { throw ValidationError("Give --from FILE|URL, or --rollback (or `branch upgrade postgres`).") }
        try await reportingErrors(json: output.json) {
            let client = try APIClient.make()
            var source = from
            if let given = from, !given.contains("://"), !given.hasPrefix("/") {
                source = URL(fileURLWithPath: given).standardizedFileURL.path
            }
            let asked = Date()
            let started = try await client.upgrade(body: .json(.init(from: source, rollback: rollback ? true : nil))).accepted.body.json
            if !output.json {
                print("\(started.manual ? "Rolling back" : "Upgrading") \(started.from) → \(started.to): binary swapped, service restarting (\(started.restart)).")
            }
            if noWait {
                if output.json { try Format.printJSON(started) }
                return
            }
            let verdict = try await waitForVerdict(started, since: asked)
            guard let last = verdict.lastUpgrade, last.phase == "succeeded" else {
                let detail = (verdict.lastUpgrade?.detail ?? "the new service was not healthy").trimmingCharacters(in: CharacterSet(charactersIn: "."))
                throw CLIError(
                    code: ErrorCode.upgradeRolledBack.rawValue,
                    message: "\(started.manual ? "The rollback" : "The upgrade") to \(started.to) was rolled back: \(detail). The service runs \(verdict.version).",
                    hint: "Nothing else changed. See the watchdog's log in <pool>/upgrade/watchdog.log and the service's log.")
            }
            if output.json { return try Format.printJSON(verdict) }
            if !output.json { print("The service runs \(verdict.version) (previous: \(verdict.previousVersion ?? "unknown")).") }
        }
    }

    /// Polls `GET /api/v1/version` (through the restart: refused connections are expected) until
    /// the last upgrade, the one started at `since`, has a verdict.
    private func waitForVerdict(_ started: Components.Schemas.UpgradeStarted, since: Date) async throws -> Components.Schemas.VersionInfo {
        let deadline = Date().addingTimeInterval(Double(started.healthTimeoutSeconds) + 90)
        // The restart begins half a second after the answer.
        try await Task.sleep(for: .seconds(1))
        while Date() < deadline {
            if let info = try? await APIClient.make().getVersion().ok.body.json, let last = info.lastUpgrade,
                last.to == started.to, last.startedAt >= since.addingTimeInterval(-300), last.phase != "restarting"
            {
                return info
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw CLIError(
            code: ErrorCode.serviceStopping.rawValue, message: "The service did not report how the upgrade to \(started.to) ended within the expected time.",
            hint: "Check `branch version` and the service's log.")
    }
}

/// `branch upgrade postgres`: restart every running branch server on the installed Postgres minor
/// release, one at a time, with clients of the pooled endpoint waiting meanwhile.
struct UpgradePostgres: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres",
        abstract: "Restart every running branch server on the installed Postgres (after a minor update), one at a time.")

    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(try await APIClient.make().upgradePostgres().ok.body.json) { result in
            var table = Table("PROJECT", "BRANCH", "FROM", "TO", "CLIENTS WAITED")
            for branch in result.branches {
                table.add(
                    branch.project, branch.branch, branch.from ?? "?", branch.to ?? "?",
                    branch.paused ? "\(Int(branch.pausedMs)) ms" : "sessions closed")
            }
            print("Postgres \(result.postgres) installed; \(result.branches.count) branch server\(result.branches.count == 1 ? "" : "s") restarted.")
            if !result.branches.isEmpty { print(table.rendered) }
        }
    }
}
