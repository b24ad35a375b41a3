import BranchCore
import BranchSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The detached process (`branch upgrade-watchdog`, in a session of its own, run from the binary
/// that was working) that finishes an upgrade: it waits for the restarted service to answer its
/// health check with the new version, and when that does not happen in time — the new binary
/// exited at start, hung, or answers as another version — it puts the previous binary and the
/// catalog backup back and starts the service again. It survives the service's restart because
/// it is not part of it.
package enum UpgradeWatchdog {
    /// Runs to the verdict; returns the process's exit status (0: the upgrade stands).
    package static func run(statePath: String) async -> Int32 {
        guard var state = UpgradeState.load(statePath) else {
            log("no upgrade state at \(statePath)")
            return 1
        }
        guard !state.isFinished else { return 0 }
        log("upgrade \(state.id): waiting up to \(state.healthTimeoutSeconds) s for \(state.healthURL) to answer \(state.to.version)")
        let failure = await waitHealthy(state, version: state.to.version, watchPID: state.restart.systemdUnit == nil ? state.restart.pid : nil)
        guard let failure else {
            state.phase = .succeeded
            state.finishedAt = Date()
            let paths = InstalledPaths(binary: state.binary)
            try? FileManager.default.removeItem(atPath: paths.kept)
            try? FileManager.default.removeItem(atPath: paths.keptManifest)
            state.restart.environment = [:]
            try? state.save(statePath)
            log("upgrade \(state.id): \(state.to.version) is healthy")
            return 0
        }
        log("upgrade \(state.id): \(failure); rolling back to \(state.from.version)")
        state.detail = "The new service was not healthy: \(failure)."
        do {
            try await rollBack(&state)
        } catch {
            state.phase = .rollbackFailed
            state.detail = (state.detail ?? "") + " The rollback failed: \(error)."
            state.finishedAt = Date()
            state.restart.environment = [:]
            try? state.save(statePath)
            log("upgrade \(state.id): rollback failed: \(error)")
            return 1
        }
        let back = await waitHealthy(state, version: state.from.version, watchPID: state.restart.restartedPID)
        state.phase = back == nil ? .rolledBack : .rollbackFailed
        if let back { state.detail = (state.detail ?? "") + " After the rollback: \(back)." }
        state.finishedAt = Date()
        state.restart.environment = [:]
        try? state.save(statePath)
        log("upgrade \(state.id): \(state.phase.rawValue)")
        return back == nil ? 0 : 1
    }

    /// Nil once `healthURL` answers `version`; else why not, at the deadline or as soon as the
    /// watched process is gone.
    static func waitHealthy(_ state: UpgradeState, version: String, watchPID: Int32?) async -> String? {
        let deadline = ContinuousClock.now + .seconds(state.healthTimeoutSeconds)
        var last = "no answer"
        while ContinuousClock.now < deadline {
            // Plain reads of the public health endpoint on this machine: no credentials are sent,
            // so the service's own certificate is not checked (-k).
            if let result = try? await Command.run("curl", ["-fsS", "-k", "--max-time", "2", state.healthURL], check: false) {
                if result.succeeded {
                    struct Health: Decodable { let version: String }
                    if let health = try? JSONDecoder().decode(Health.self, from: Data(result.stdout.utf8)) {
                        if health.version == version { return nil }
                        last = "it answers as version \(health.version)"
                    }
                } else {
                    last = "no answer (\(result.tail))"
                }
            }
            if let watchPID, !isAlive(watchPID) { return "the service process \(watchPID) exited" }
            try? await Task.sleep(for: .milliseconds(300))
        }
        return "it did not answer \(version) within \(state.healthTimeoutSeconds) s (\(last))"
    }

    /// Stops what runs, swaps the binaries back, restores the catalog and starts the service.
    static func rollBack(_ state: inout UpgradeState) async throws {
        if let unit = state.restart.systemdUnit {
            // SIGKILL to the main process only: branch servers keep running for the next start.
            _ = try? await Command.run("systemctl", ["kill", "--signal=SIGKILL", "--kill-whom=main", unit], check: false)
        } else if isAlive(state.restart.pid) {
            kill(state.restart.pid, SIGKILL)
        }
        for _ in 0..<100 where state.restart.systemdUnit == nil && isAlive(state.restart.pid) {
            try await Task.sleep(for: .milliseconds(100))
        }
        let paths = InstalledPaths(binary: state.binary)
        try AtomicSwap.exchange(paths.binary, paths.previous)
        if Files.exists(paths.manifest), Files.exists(paths.previousManifest) { try AtomicSwap.exchange(paths.manifest, paths.previousManifest) }
        // The binary that failed is set aside; the one before it is `previous` again.
        try AtomicSwap.rename(paths.previous, over: paths.failed)
        if Files.exists(paths.previousManifest) { try AtomicSwap.rename(paths.previousManifest, over: paths.failedManifest) }
        if Files.exists(paths.kept) { try AtomicSwap.rename(paths.kept, over: paths.previous) }
        if Files.exists(paths.keptManifest) { try AtomicSwap.rename(paths.keptManifest, over: paths.previousManifest) }
        AtomicSwap.syncDirectory((paths.binary as NSString).deletingLastPathComponent)
        if state.restoreCatalog, let backup = state.catalogBackup, Files.exists(backup) {
            let staged = "\(state.catalog).restore"
            try AtomicSwap.copy(backup, to: staged, mode: 0o600)
            // A rollback journal left by the killed service belongs to the catalog being replaced.
            unlink("\(state.catalog)-journal")
            try AtomicSwap.rename(staged, over: state.catalog)
            AtomicSwap.syncDirectory((state.catalog as NSString).deletingLastPathComponent)
        }
        if let unit = state.restart.systemdUnit {
            try await Command.run("systemctl", ["restart", unit])
        } else {
            let output = state.restart.logFile ?? "\((state.catalogBackup.map { ($0 as NSString).deletingLastPathComponent }) ?? "/tmp")/service.log"
            let pid = try Command.launch(
                "/usr/bin/env", ["-C", state.restart.directory, state.binary] + state.restart.arguments.dropFirst(),
                environment: state.restart.environment, logFile: output)
            state.restart.restartedPID = pid
            log("started \(state.binary) again as pid \(pid)")
        }
    }

    static func isAlive(_ pid: Int32) -> Bool { Upgrades.isRunning(pid) }

    static func log(_ line: String) {
        FileHandle.standardError.write(Data("\(ISO8601DateFormatter().string(from: Date())) \(line)\n".utf8))
    }
}
