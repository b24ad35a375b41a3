import BranchAPI
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging
public import ServiceLifecycle

/// What the supervisor remembers between rounds: restart backoff per branch, when each branch
/// last had a client, and which branches are suspended (so the pooler is watched only then).
actor SupervisorState {
    struct Backoff {
        var failures = 0
        var next = ContinuousClock.now
        var crashRecorded = false
    }

    private var backoff: [String: Backoff] = [:]
    private var lastActive: [String: ContinuousClock.Instant] = [:]
    /// Branches the service itself is reading or writing (a diff, a merge), which are not idle
    /// however long that takes, though its connections are not clients the metrics see.
    private var inUse: [String: Int] = [:]
    private(set) var suspended: Set<String> = []

    static func key(_ branch: BranchRecord) -> String { "\(branch.project)/\(branch.name)" }

    // MARK: Restarts

    /// Whether a restart attempt is due now.
    func restartDue(_ key: String) -> Bool { (backoff[key]?.next ?? .now) <= .now }

    /// Returns true the first time a crash of this outage is noticed (so it is recorded once),
    /// and holds the first restart back a second: the dead postmaster's children need a moment
    /// to notice and exit before a new one can take over the data directory.
    func noticeCrash(_ key: String) -> Bool {
        var entry = backoff[key] ?? Backoff()
        defer { backoff[key] = entry }
        if entry.crashRecorded { return false }
        entry.crashRecorded = true
        entry.next = .now + .seconds(1)
        return true
    }

    /// After a failed attempt: the delay before the next one (1 s, 2 s, 4 s … at most 60 s).
    func restartFailed(_ key: String) -> Duration {
        var entry = backoff[key] ?? Backoff()
        entry.failures += 1
        let delay = Duration.seconds(min(60, 1 << min(entry.failures - 1, 6)))
        entry.next = .now + delay
        backoff[key] = entry
        return delay
    }

    func healthy(_ key: String) { backoff[key] = nil }

    // MARK: Activity and suspension

    func active(_ key: String) { lastActive[key] = .now }

    func use(_ key: String) { inUse[key, default: 0] += 1 }

    func release(_ key: String) {
        inUse[key, default: 1] -= 1
        if inUse[key] == 0 { inUse[key] = nil }
        lastActive[key] = .now
    }

    /// How long the branch has had no client, counting from the service start at most; zero
    /// while the service uses it.
    func idle(_ key: String, since start: ContinuousClock.Instant) -> Duration {
        if inUse[key] != nil { return .zero }
        return .now - (lastActive[key] ?? start)
    }

    func setSuspended(_ key: String, _ value: Bool) {
        if value { suspended.insert(key) } else { suspended.remove(key) }
        if !value { lastActive[key] = .now }
    }

    func forget(_ key: String) {
        backoff[key] = nil
        lastActive[key] = nil
        suspended.remove(key)
    }
}

/// Keeps branch servers running: restarts those that died (with backoff, recording each event),
/// resumes suspended branches when a client waits for them at the pooler, and prunes old logs.
public struct SupervisorService: Service {
    let engine: Engine

    public init(engine: Engine) { self.engine = engine }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await engine.superviseServers() }
                group.addTask { await engine.watchWaitingClients() }
                group.addTask { await engine.collectMetrics() }
            }
        }
    }
}

extension Engine {
    func superviseServers() async {
        var lastPrune = ContinuousClock.now - .seconds(3600)
        while !Task.isCancelled {
            await supervisePooler()
            await superviseOnce()
            await runDueSchedules()
            if ContinuousClock.now - lastPrune > .seconds(60) {
                pruneLogs()
                await pruneArchivedWAL()
                lastPrune = .now
            }
            try? await Task.sleep(for: configuration.supervisorInterval)
        }
    }

    /// One round: every ready branch that should run and is not suspended gets restarted if its
    /// server is gone. Branches with an operation in flight are left to that operation.
    func superviseOnce() async {
        guard let branches = try? await catalog.allBranches() else { return }
        for branch in branches where branch.state == .ready && branch.desired == .running && !branch.suspended {
            let key = SupervisorState.key(branch)
            if runtime.state(spec(branch)).isRunning {
                await supervision.healthy(key)
                continue
            }
            if await locks.isLocked("project:\(branch.project)") { continue }
            // Read it again: it may have been stopped or suspended since this round began.
            guard let fresh = try? await catalog.branch(branch.project, branch.name), fresh.state == .ready, fresh.desired == .running,
                !fresh.suspended, !runtime.state(spec(fresh)).isRunning
            else { continue }
            if await supervision.noticeCrash(key) {
                await record("crashed", branch, "its server stopped without being asked to")
            }
            guard await supervision.restartDue(key) else { continue }
            do {
                let restarted = try await withProjectLock(branch.project.rawValue) { () -> Bool in
                    guard var current = try await catalog.branch(branch.project, branch.name), current.state == .ready,
                        current.desired == .running, !current.suspended, !runtime.state(spec(current)).isRunning
                    else { return false }
                    try await startServer(current)
                    current.restarts += 1
                    try await catalog.write { [current] in try $0.update(current) }
                    return true
                }
                await supervision.healthy(key)
                if restarted { await record("restarted", branch, "the supervisor started it again") }
            } catch {
                let delay = await supervision.restartFailed(key)
                await record("restart_failed", branch, "\(error); next attempt in \(delay)")
            }
        }
    }

    /// Starts PgBouncer again if it died, with the configuration from the catalog, and pauses the
    /// entries of suspended branches again (a new PgBouncer knows nothing of earlier pauses).
    func supervisePooler() async {
        guard await !pooler.isRunning else { return }
        logger.warning("the pooler is not running; starting it again")
        do {
            try await syncPooler()
            let projects = Dictionary(uniqueKeysWithValues: try await catalog.projects().map { ($0.name, $0) })
            for branch in try await catalog.allBranches() where branch.suspended {
                for entry in poolerEntries(branch, project: projects[branch.project]) { _ = await pooler.pause(entry) }
            }
        } catch {
            logger.error("could not start the pooler", metadata: ["error": "\(error)"])
        }
    }

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
