import BranchCatalog
import BranchCore
import Foundation
import Logging
import ServiceLifecycle

/// Scale-to-zero decisions as a pure state machine: when each branch last had a client, which
/// branches the service itself is using (a diff or merge reads them; they are not idle however
/// long that takes), and which are suspended.
struct IdleMachine {
    let serviceStart: ContinuousClock.Instant
    private var lastActive: [String: ContinuousClock.Instant] = [:]
    private var inUse: [String: Int] = [:]
    private(set) var suspended: Set<String> = []

    init(serviceStart: ContinuousClock.Instant) { self.serviceStart = serviceStart }

    mutating func active(_ key: String, at now: ContinuousClock.Instant) { lastActive[key] = now }

    mutating func use(_ key: String) { inUse[key, default: 0] += 1 }

    mutating func release(_ key: String, at now: ContinuousClock.Instant) {
        inUse[key, default: 1] -= 1
        if inUse[key] == 0 { inUse[key] = nil }
        lastActive[key] = now
    }

    /// How long the branch has had no client, counting from the service start at most; zero
    /// while the service uses it.
    func idle(_ key: String, at now: ContinuousClock.Instant) -> Duration {
        if inUse[key] != nil { return .zero }
        return now - (lastActive[key] ?? serviceStart)
    }

    /// When the branch last had a client or was used by the service (now while it is); nil when
    /// neither happened since the service started.
    func lastActive(_ key: String, at now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        inUse[key] != nil ? now : lastActive[key]
    }

    /// Whether a running branch should be suspended now: it has a delay (0: never), and has been
    /// idle for at least that long.
    func shouldSuspend(_ key: String, delaySeconds: Int, at now: ContinuousClock.Instant) -> Bool {
        guard delaySeconds > 0, !suspended.contains(key) else { return false }
        return idle(key, at: now) >= .seconds(delaySeconds)
    }

    mutating func setSuspended(_ key: String, _ value: Bool, at now: ContinuousClock.Instant) {
        if value {
            suspended.insert(key)
        } else {
            suspended.remove(key)
            lastActive[key] = now
        }
    }

    mutating func forget(_ key: String) {
        lastActive[key] = nil
        inUse[key] = nil
        suspended.remove(key)
    }

    /// The branch was renamed: what was known of it now goes by its new key.
    mutating func rename(_ old: String, to new: String) {
        lastActive[new] = lastActive.removeValue(forKey: old)
        inUse[new] = inUse.removeValue(forKey: old)
        if suspended.remove(old) != nil { suspended.insert(new) }
    }
}

/// The shared record of branch activity (an actor over `IdleMachine`): the API, the metrics and
/// the scale-to-zero service all report to it.
actor Activity {
    private var machine: IdleMachine

    init(serviceStart: ContinuousClock.Instant) { machine = IdleMachine(serviceStart: serviceStart) }

    static func key(_ branch: BranchRecord) -> String { "\(branch.project)/\(branch.name)" }

    var suspended: Set<String> { machine.suspended }
    func active(_ key: String) { machine.active(key, at: .now) }
    func use(_ key: String) { machine.use(key) }
    func release(_ key: String) { machine.release(key, at: .now) }
    func idle(_ key: String) -> Duration { machine.idle(key, at: .now) }
    func shouldSuspend(_ key: String, delaySeconds: Int) -> Bool { machine.shouldSuspend(key, delaySeconds: delaySeconds, at: .now) }
    func setSuspended(_ key: String, _ value: Bool) { machine.setSuspended(key, value, at: .now) }
    func forget(_ key: String) { machine.forget(key) }
    func rename(_ old: String, to new: String) { machine.rename(old, to: new) }

    /// `lastActive` of each key as a wall-clock date, for lists (keys never active are left out).
    func lastActiveDates(_ keys: [String]) -> [String: Date] {
        let now = ContinuousClock.now, date = Date()
        var dates: [String: Date] = [:]
        for key in keys {
            guard let instant = machine.lastActive(key, at: now) else { continue }
            dates[key] = date.addingTimeInterval(-(now - instant).seconds)
        }
        return dates
    }
}

/// Scale to zero: suspends branches idle for their project's delay (checked at every metrics
/// round), and while any branch is suspended, watches PgBouncer every 50 ms for clients queued
/// on one, and resumes it.
package struct ScaleToZeroService: Service {
    let context: EngineContext

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await suspendIdle() }
                group.addTask { await resumeWaited() }
            }
        }
    }

    private func suspendIdle() async {
        let servers = BranchServers(context: context)
        while !Task.isCancelled {
            try? await Task.sleep(for: context.configuration.metricsInterval)
            guard let (projects, branches) = try? await context.catalog.read({ tx in (try tx.projects(), try tx.allBranches()) }) else {
                continue
            }
            let byName = Dictionary(uniqueKeysWithValues: projects.map { ($0.name, $0) })
            for branch in branches where branch.state == .ready && branch.desired == .running && !branch.suspended {
                guard let project = byName[branch.project], project.state == .ready, servers.isRunning(branch) else { continue }
                let key = Activity.key(branch)
                guard await context.activity.shouldSuspend(key, delaySeconds: servers.suspendDelay(branch, project: project)) else { continue }
                do {
                    try await servers.suspend(branch, idle: await context.activity.idle(key))
                } catch {
                    context.logger.error("could not suspend branch", metadata: ["branch": "\(key)", "error": "\(error)"])
                }
            }
        }
    }

    private func resumeWaited() async {
        let servers = BranchServers(context: context)
        let frontDoor = FrontDoor(context: context)
        while !Task.isCancelled {
            if await context.activity.suspended.isEmpty {
                try? await Task.sleep(for: .milliseconds(250))
                continue
            }
            if let clients = try? await context.pooler.clients(), let branches = try? await context.catalog.allBranches(),
                let projects = try? await context.catalog.projects()
            {
                let byName = Dictionary(uniqueKeysWithValues: projects.map { ($0.name, $0) })
                for branch in branches where branch.suspended {
                    let waiting = frontDoor.entries(of: branch, project: byName[branch.project]).contains { (clients[$0]?.waiting ?? 0) > 0 }
                    guard waiting else { continue }
                    do {
                        try await servers.resume(branch, cause: "a client connected through the pooler")
                    } catch {
                        context.logger.error("could not resume branch", metadata: ["branch": "\(Activity.key(branch))", "error": "\(error)"])
                    }
                }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
