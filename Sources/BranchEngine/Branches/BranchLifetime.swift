import BranchCatalog
package import BranchCore
package import Foundation
import Logging

/// A branch's protection and time to live: `branch protect` refuses its deletion and reset;
/// `branch create --ttl` and `branch expire` give it a time after which the service deletes it
/// (preview and agent branches that nobody remembers to clean up).
package struct BranchLifetime: EnginePart {
    let context: EngineContext

    /// Sets protection and/or the time to live (`ttlSeconds` from now; 0 keeps it until deleted).
    package func update(project projectName: String, branch name: String, protected: Bool?, ttlSeconds: Int?) async throws -> BranchView {
        guard protected != nil || ttlSeconds != nil else {
            throw EngineError.invalidRequest("Nothing to change.", hint: "Give `protected`, `ttlSeconds`, or both.")
        }
        let expiresAt = try Self.expiry(ttlSeconds: ttlSeconds)
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try tx.requireProject(projectName)
            return (project, try tx.requireBranch(project.name, name))
        }) { (project, branch) in
            var updated = branch
            if let protected { updated.protected = protected }
            if ttlSeconds != nil { updated.expiresAt = expiresAt }
            try await catalog.write { [updated] tx in try tx.update(updated) }
            return try await presenter.branch(updated, project: project)
        }
    }

    /// When a branch made now with `ttlSeconds` expires; nil without one, or with 0 (kept until
    /// deleted).
    static func expiry(ttlSeconds: Int?, now: Date = Date()) throws -> Date? {
        guard let ttlSeconds, ttlSeconds != 0 else { return nil }
        guard (1...(366 * 86_400)).contains(ttlSeconds) else {
            throw EngineError.invalidRequest(
                "A time to live is a second to a year, not \(ttlSeconds) s.", hint: "For example `--ttl 7d`, `--ttl 12h`, `--ttl 90m`.")
        }
        return now.addingTimeInterval(TimeInterval(ttlSeconds))
    }

    /// Deletes the ready branches whose time is up, except protected ones, main, the checked-out
    /// branch and parents (those wait; each is a row in the event log when it goes).
    package func deleteExpired(now: Date = Date()) async {
        guard let (projects, branches) = try? await catalog.read({ tx in (try tx.projects(), try tx.allBranches()) }) else { return }
        let checkedOut = Set(projects.map { "\($0.name)/\($0.checkedOut)" })
        let parents = Set(branches.compactMap { branch in branch.parent.map { "\(branch.project)/\($0)" } })
        for branch in branches where branch.state == .ready && !branch.protected && branch.name != .main {
            guard let expiresAt = branch.expiresAt, expiresAt <= now else { continue }
            let key = "\(branch.project)/\(branch.name)"
            guard !checkedOut.contains(key), !parents.contains(key) else { continue }
            do {
                _ = try await Branches(context: context).delete(project: branch.project.rawValue, branch.name.rawValue, force: false)
                await context.record("expired", branch, "deleted: its time to live ended at \(expiresAt.formatted(.iso8601))")
            } catch {
                logger.warning("could not delete an expired branch", metadata: ["branch": "\(key)", "error": "\(error)"])
            }
        }
    }
}

/// What a new branch starts with: the time to live and protection its creator asked for, else its
/// project's branch defaults (`branch project set --new-branch-ttl`, `--protect-new-branches`).
struct NewBranchLifetime: Sendable {
    var expiresAt: Date?
    var protected = false

    init() {}

    /// `ttlSeconds` 0 keeps the branch until it is deleted, whatever the default.
    init(ttlSeconds: Int?, protected: Bool?, defaults project: ProjectRecord, now: Date = Date()) throws {
        let seconds = ttlSeconds ?? project.newBranchTimeToLive
        expiresAt = try BranchLifetime.expiry(ttlSeconds: seconds, now: now)
        self.protected = protected ?? project.protectNewBranches
    }
}
