import BranchCatalog
package import BranchCore
import BranchPostgres
import BranchRuntime
import BranchSystem
import Foundation
import Logging

/// `branch upgrade postgres`: after the system's package manager installed a new Postgres minor
/// release, every running branch server is restarted on the new binaries, one at a time, with its
/// pooler entries paused around the restart so clients of the pooled endpoint wait instead of
/// failing (connections opened meanwhile queue at PgBouncer; a session held across the restart
/// cannot survive it and is closed).
extension Upgrades {
    /// One branch server restarted, and the Postgres version it ran before and after.
    package struct PostgresRestart: Sendable {
        package var project: String
        package var branch: String
        package var from: String?
        package var to: String?
        /// Whether its pooler entries were paused (false: a client held a session past the wait).
        package var paused: Bool
        /// How long clients of the pooled endpoint waited.
        package var pausedMilliseconds: Double
    }

    /// The installed Postgres version, and each running branch server as it was restarted.
    package func restartPostgres() async throws -> (installed: String, restarted: [PostgresRestart]) {
        let installed = try await PostgresInstallation.discover(binDirectory: configuration.postgresBinDirectory)
        guard installed.major == installation.major else {
            throw EngineError(
                .postgresVersionMismatch,
                "The installed Postgres is \(installed.version), another major release than the \(installation.version) branch servers run.",
                hint: "Only minor releases are applied in place; a major upgrade needs pg_upgrade of every project.")
        }
        var restarted: [PostgresRestart] = []
        let branches = try await catalog.allBranches().filter { $0.state == .ready && $0.desired == .running && !$0.suspended }
        for branch in branches where servers.isRunning(branch) {
            let restart = try await context.withProjectLock(branch.project.rawValue) { () async throws -> PostgresRestart? in
                guard let current = try await catalog.branch(branch.project, branch.name), current.state == .ready, servers.isRunning(current)
                else { return nil }
                return try await restartServer(current)
            }
            if let restart { restarted.append(restart) }
        }
        context.release.postgresVersion = installed.version
        return (installed.version, restarted)
    }

    private func restartServer(_ branch: BranchRecord) async throws -> PostgresRestart {
        let spec = servers.spec(branch)
        let before = try? await withConnection(spec.superuserConnection) { try await $0.query("SHOW server_version").scalar }
        let entries = frontDoor.entries(of: branch, project: try await catalog.project(branch.project))
        let watch = Stopwatch()
        var paused: [String] = []
        for entry in entries where await pooler.pause(entry, timeout: .seconds(10)) { paused.append(entry) }
        do {
            try await servers.stop(branch)
            try await servers.start(branch)
        } catch {
            for entry in paused { await pooler.resume(entry) }
            throw error
        }
        for entry in paused { await pooler.resume(entry) }
        let waited = watch.milliseconds
        let after = try? await withConnection(spec.superuserConnection) { try await $0.query("SHOW server_version").scalar }
        logger.notice(
            "branch server restarted on the installed Postgres",
            metadata: ["branch": "\(branch.project)/\(branch.name)", "from": "\(before ?? "?")", "to": "\(after ?? "?")", "ms": "\(waited)"])
        // `server_version` reads "15.18 (Debian 15.18-0+deb12u1)": the release is its first word.
        let release = { (version: String?) in version?.split(separator: " ").first.map(String.init) }
        return PostgresRestart(
            project: branch.project.rawValue, branch: branch.name.rawValue, from: release(before), to: release(after),
            paused: paused.count == entries.count, pausedMilliseconds: waited)
    }
}

extension Observability {
    /// The installed Postgres binaries' version when it differs from the one running servers were
    /// started with (a minor update was installed since): what `branch status` points out.
    func installedPostgresVersion() async -> String? {
        guard let installed = try? await PostgresInstallation.discover(binDirectory: configuration.postgresBinDirectory),
            installed.version != (context.release.postgresVersion ?? installation.version)
        else { return nil }
        return installed.version
    }
}
