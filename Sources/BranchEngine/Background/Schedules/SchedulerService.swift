import BranchStorage
import BranchCatalog
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the schedules that are due (checked every second), each as a child task of its own, so a
/// long backup delays no other schedule, restart or request; a schedule still running is not
/// started again. Every round it deletes the branches whose time to live ended (see
/// `BranchLifetime`). Once a minute it also prunes old server logs and archived WAL nothing needs, and
/// starts the verification of each project's newest backup when it is due (`--verify-interval`).
package struct SchedulerService: Service {
    let context: EngineContext

    package func run() async throws {
        let scheduler = Scheduler(context: context)
        let running = RunningSchedules()
        await withDiscardingTaskGroup { group in
            var lastHousekeeping = ContinuousClock.now - .seconds(3600)
            var lastVerificationCheck = ContinuousClock.now - .seconds(3600)
            // Checked once a minute, or as often as a short `--verify-interval` asks.
            let verificationCheck = min(.seconds(60), context.configuration.verifyInterval ?? .seconds(60))
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                if ContinuousClock.now - lastVerificationCheck >= verificationCheck {
                    lastVerificationCheck = .now
                    for backup in await scheduler.verificationsDue(now: Date()) {
                        let key = "\(backup.project)/verify"
                        guard running.claim(key) else { continue }
                        group.addTask {
                            await scheduler.runScheduledVerification(backup)
                            running.release(key)
                        }
                    }
                }
                for schedule in await scheduler.claimDue(now: Date()) {
                    let key = "\(schedule.project)/\(schedule.kind.rawValue)"
                    guard running.claim(key) else { continue }
                    group.addTask {
                        await scheduler.run(schedule)
                        running.release(key)
                    }
                }
                if running.claim("branch expiry") {
                    group.addTask {
                        await BranchLifetime(context: context).deleteExpired()
                        running.release("branch expiry")
                    }
                }
                if ContinuousClock.now - lastHousekeeping > .seconds(60) {
                    lastHousekeeping = .now
                    group.addTask {
                        scheduler.pruneLogs()
                        await PointInTime(context: context).pruneArchivedWAL()
                    }
                }
                await pauseBeforeNextRound(context.configuration.supervisorInterval)
            }
            group.cancelAll()
        }
    }
}

/// Schedules with a run in progress.
private final class RunningSchedules: Sendable {
    private let keys = Mutex<Set<String>>([])

    /// Whether `key` was free (and is now taken).
    func claim(_ key: String) -> Bool { keys.withLock { $0.insert(key).inserted } }
    func release(_ key: String) { keys.withLock { _ = $0.remove(key) } }
}

extension Scheduler {
    /// Keeps each branch's newest `logFiles` log files and a bounded startup log.
    func pruneLogs() {
        let root = layout.logs
        for project in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] where !project.hasPrefix("_") {
            let projectDirectory = "\(root)/\(project)"
            for branch in (try? FileManager.default.contentsOfDirectory(atPath: projectDirectory)) ?? [] {
                LogFiles.prune("\(projectDirectory)/\(branch)", keep: configuration.logFiles, maxStartupBytes: configuration.logRotationSize)
            }
        }
    }
}
