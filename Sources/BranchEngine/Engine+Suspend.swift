import BranchAPI
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// Scale to zero: an idle branch's server is stopped and its pooler entries paused, so clients
/// that connect meanwhile queue at PgBouncer; the first one waiting (or any API use) starts the
/// server again and lets them through.
extension Engine {
    /// The pooler entries that reach `branch`: its own, and the project's if it is checked out.
    func poolerEntries(_ branch: BranchRecord, project: ProjectRecord?) -> [String] {
        var names = [Self.poolerName(branch.project, branch.name)]
        if project?.checkedOut == branch.name { names.append(branch.project.rawValue) }
        return names
    }

    /// Suspends an idle branch (under its project's lock). Does nothing if it is busy after all.
    func suspend(_ branch: BranchRecord, idle: Duration) async throws {
        try await withProjectLock(branch.project.rawValue) {
            guard let current = try await catalog.branch(branch.project, branch.name), current.state == .ready,
                current.desired == .running, !current.suspended, runtime.state(spec(current)).isRunning
            else { return }
            let project = try await catalog.project(branch.project)
            let entries = poolerEntries(current, project: project)
            var paused: [String] = []
            for entry in entries {
                guard await pooler.pause(entry) else {
                    for name in paused { await pooler.resume(name) }
                    await supervision.active(SupervisorState.key(current))
                    return
                }
                paused.append(entry)
            }
            do {
                try await stopServer(current)
            } catch {
                for name in paused { await pooler.resume(name) }
                throw error
            }
            var updated = current
            updated.suspended = true
            try await catalog.write { [updated] in try $0.update(updated) }
            await supervision.setSuspended(SupervisorState.key(current), true)
            await record("suspended", current, "no client for \(Seconds.format(Int(idle.components.seconds))); it resumes on the next connection")
        }
    }

    /// Starts a suspended branch again and lets queued clients through. `cause` is recorded.
    func resume(_ branch: BranchRecord, cause: String) async throws {
        try await withProjectLock(branch.project.rawValue) {
            guard let current = try await catalog.branch(branch.project, branch.name), current.suspended else { return }
            try await startServer(current, resumeCause: cause)
        }
    }

    /// Resumes `branch` if it is suspended; for API uses that are about to need its server.
    func resumeIfSuspended(_ branch: BranchRecord, cause: String) async throws {
        guard branch.suspended else { return }
        try await resume(branch, cause: cause)
    }

    /// After a suspended branch's server started: un-pause its pooler entries, clear the flag.
    func finishResume(_ branch: BranchRecord, project: ProjectRecord?, cause: String, startedIn: Stopwatch) async throws {
        for entry in poolerEntries(branch, project: project) { await pooler.resume(entry) }
        var updated = branch
        updated.suspended = false
        try await catalog.write { [updated] in try $0.update(updated) }
        await supervision.setSuspended(SupervisorState.key(branch), false)
        await record("resumed", branch, "\(cause); ready in \(Int(startedIn.milliseconds)) ms")
    }

    /// Watches PgBouncer for clients queued on a suspended branch and resumes it. Polls every
    /// 50 ms, only while some branch is suspended.
    func watchWaitingClients() async {
        while !Task.isCancelled {
            let suspended = await supervision.suspended
            if suspended.isEmpty {
                try? await Task.sleep(for: .milliseconds(250))
                continue
            }
            if let clients = try? await pooler.clients(), let branches = try? await catalog.allBranches(),
                let projects = try? await catalog.projects()
            {
                let byName = Dictionary(uniqueKeysWithValues: projects.map { ($0.name, $0) })
                for branch in branches where branch.suspended {
                    let waiting = poolerEntries(branch, project: byName[branch.project]).contains { (clients[$0]?.waiting ?? 0) > 0 }
                    if waiting {
                        do {
                            try await resume(branch, cause: "a client connected through the pooler")
                        } catch {
                            logger.error("could not resume branch", metadata: ["branch": "\(SupervisorState.key(branch))", "error": "\(error)"])
                        }
                    }
                }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
