import BranchStorage
import BranchSystem
import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Carries out an upgrade's restart once its API answer is on its way (a SIGTERM to itself for a
/// re-exec, `systemctl restart` under systemd), and at start raises the alert for how the last
/// upgrade ended once the watchdog has decided.
struct UpgradeService: Service {
    let context: EngineContext

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await reportOutcome() }
            group.addTask {
                for await restart in context.release.restartRequests.cancelOnGracefulShutdown() {
                    // Let the response that started the upgrade reach its client.
                    try? await Task.sleep(for: .milliseconds(500))
                    switch restart {
                    case .reexec:
                        context.logger.notice("upgrade: shutting down to re-execute the new binary; branch servers keep running")
                        kill(getpid(), SIGTERM)
                    case .systemd(let unit):
                        context.logger.notice("upgrade: asking systemd to restart \(unit)")
                        _ = try? Command.launch(
                            "systemctl", ["restart", unit], environment: Command.baseEnvironment,
                            logFile: "\(context.layout.root)/upgrade/systemctl.log")
                    }
                    break
                }
                // A service that returns early ends the group with an error: wait for the shutdown.
                try? await gracefulShutdown()
            }
        }
    }

    /// Waits (while the watchdog decides) for the last upgrade's outcome and alerts once.
    private func reportOutcome() async {
        let path = UpgradeState.path(pool: context.layout.root)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            guard var state = UpgradeState.load(path), !state.reported else { return }
            guard state.isFinished else {
                await pauseBeforeNextRound(.seconds(1))
                continue
            }
            await context.alert(Self.alert(for: state))
            state.reported = true
            try? state.save(path)
            return
        }
    }

    static func alert(for state: UpgradeState) -> AlertEvent {
        let what = state.manual ? "Rollback by hand to \(state.to.version)" : "Upgrade to \(state.to.version)"
        switch state.phase {
        case .succeeded:
            return AlertEvent(
                .upgrade, severity: .info, title: "\(what) succeeded",
                detail: "The service runs \(state.to.version) (it ran \(state.from.version)). `branch upgrade --rollback` goes back.")
        case .rolledBack:
            return AlertEvent(
                .upgrade, severity: .critical, title: "\(what) failed and was rolled back",
                detail: "\(state.detail ?? "The new service was not healthy in time.") The service runs \(state.from.version) again, with the catalog as it was before the upgrade.")
        case .rollbackFailed, .restarting:
            return AlertEvent(
                .upgrade, severity: .critical, title: "\(what) failed and the rollback did not bring the service back",
                detail: "\(state.detail ?? "") See \((state.catalogBackup as NSString?)?.deletingLastPathComponent ?? "the pool's upgrade directory")/watchdog.log.")
        }
    }
}
