import BranchCatalog
import BranchCore
import Foundation
import Logging
import ServiceLifecycle

/// Restart decisions for one branch server that should run, as a pure state machine: given what
/// was observed and when, what to do. A dead server is recorded once as crashed, restarted after
/// a grace second (the dead postmaster's children need a moment to exit), and while restarts
/// fail, retried after 1, 2, 4 … at most 60 s.
struct RestartMachine: Equatable {
    enum Action: Equatable {
        /// Nothing to do now.
        case none
        /// Record the crash (once per outage); try to restart later.
        case recordCrash
        /// Try to start it.
        case restart
    }

    private(set) var crashRecorded = false
    private(set) var failures = 0
    private(set) var nextAttempt: ContinuousClock.Instant?

    /// The server was seen running: whatever happened before is over.
    mutating func running() { self = RestartMachine() }

    /// The server was seen dead at `now`.
    mutating func dead(at now: ContinuousClock.Instant) -> Action {
        if !crashRecorded {
            crashRecorded = true
            nextAttempt = now + .seconds(1)
            return .recordCrash
        }
        guard let nextAttempt, now >= nextAttempt else { return .none }
        return .restart
    }

    /// A restart attempt failed at `now`; returns the delay before the next.
    mutating func restartFailed(at now: ContinuousClock.Instant) -> Duration {
        failures += 1
        let delay = Duration.seconds(min(60, 1 << min(failures - 1, 6)))
        nextAttempt = now + delay
        return delay
    }
}

/// Keeps branch servers running: every second, restarts those that died (with backoff,
/// recording each event), and starts PgBouncer again if it died. Branches whose project has an
/// operation in flight are left to that operation.
package struct SupervisorService: Service {
    let context: EngineContext

    package func run() async throws {
        var machines: [String: RestartMachine] = [:]
        let servers = BranchServers(context: context)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await superviseThePooler()
            guard let branches = try? await context.catalog.allBranches() else {
                await pauseBeforeNextRound(context.configuration.supervisorInterval)
                continue
            }
            var seen = Set<String>()
            for branch in branches where branch.state == .ready && branch.desired == .running && !branch.suspended {
                let key = Activity.key(branch)
                seen.insert(key)
                if servers.isRunning(branch) {
                    machines[key] = nil
                    continue
                }
                if await context.locks.isLocked("project:\(branch.project)") { continue }
                var machine = machines[key] ?? RestartMachine()
                switch machine.dead(at: .now) {
                case .none:
                    break
                case .recordCrash:
                    await context.record("crashed", branch, "its server stopped without being asked to")
                case .restart:
                    do {
                        if try await restart(branch, servers: servers) {
                            await context.record("restarted", branch, "the supervisor started it again")
                        }
                        machine.running()
                    } catch {
                        let delay = machine.restartFailed(at: .now)
                        await context.record("restart_failed", branch, "\(error); next attempt in \(delay)")
                    }
                }
                machines[key] = machine
            }
            machines = machines.filter { seen.contains($0.key) }
            await pauseBeforeNextRound(context.configuration.supervisorInterval)
        }
    }

    /// Starts the branch again under its project's lock, if it is still dead and wanted.
    private func restart(_ branch: BranchRecord, servers: BranchServers) async throws -> Bool {
        try await context.withProjectLock(branch.project.rawValue) { () -> Bool in
            guard var current = try await context.catalog.branch(branch.project, branch.name), current.state == .ready,
                current.desired == .running, !current.suspended, !servers.isRunning(current)
            else { return false }
            try await servers.start(current)
            current.restarts += 1
            try await context.catalog.write { [current] in try $0.update(current) }
            return true
        }
    }

    /// Starts PgBouncer again if it died, with the configuration from the catalog, and pauses the
    /// entries of suspended branches again (a new PgBouncer knows nothing of earlier pauses).
    private func superviseThePooler() async {
        guard await !context.pooler.isRunning else { return }
        context.logger.warning("the pooler is not running; starting it again")
        let frontDoor = FrontDoor(context: context)
        do {
            try await frontDoor.sync()
            let projects = Dictionary(uniqueKeysWithValues: try await context.catalog.projects().map { ($0.name, $0) })
            for branch in try await context.catalog.allBranches() where branch.suspended {
                for entry in frontDoor.entries(of: branch, project: projects[branch.project]) { _ = await context.pooler.pause(entry) }
            }
        } catch {
            context.logger.error("could not start the pooler", metadata: ["error": "\(error)"])
        }
    }
}
