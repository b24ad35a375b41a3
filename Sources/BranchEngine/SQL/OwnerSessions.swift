import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import Foundation

/// Connections to a branch's database as the project's owner role, for SQL that users and agents
/// submit (admin SQL, migrations): never as the superuser, so such SQL can do what the project's
/// own URL can do and nothing more. A suspended branch is woken, and kept awake while `body` runs.
struct OwnerSessions: EnginePart {
    let context: EngineContext

    /// The project and the branch (default: the checked-out one), checked to exist.
    func target(project projectName: String, branch branchName: String?) async throws -> (ProjectRecord, BranchRecord) {
        try await catalog.read { tx in
            let project = try tx.requireProject(projectName)
            let branch = try tx.requireBranch(project.name, branchName ?? project.checkedOut.rawValue)
            guard project.state == .ready, branch.state == .ready else {
                throw EngineError.notReady("Branch '\(branch.name)' of project '\(project.name)'", state: branch.state.rawValue)
            }
            return (project, branch)
        }
    }

    /// Runs `body` on a session to `branch` as the project's owner, reused from `SessionPool` when one is idle.
    func withOwnerConnection<T: Sendable>(
        _ project: ProjectRecord, _ branch: BranchRecord, purpose: String, _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        try await connect(project, branch, login: (project.role, project.password), purpose: purpose, body)
    }

    /// The same as the superuser, for the service's own reads and writes (the migration history).
    func withSuperuserConnection<T: Sendable>(
        _ project: ProjectRecord, _ branch: BranchRecord, purpose: String, _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        try await connect(project, branch, login: nil, purpose: purpose, body)
    }

    /// As `login` (user, password), or as the superuser when it is nil.
    func connect<T: Sendable>(
        _ project: ProjectRecord, _ branch: BranchRecord, login: (user: String, password: String)?, purpose: String,
        _ body: (PGConnection) async throws -> T
    ) async throws -> T {
        try await servers.resumeIfSuspended(branch, cause: purpose)
        guard servers.isRunning(branch) else {
            throw EngineError(
                .branchStopped, "Branch '\(branch.name)' of project '\(project.name)' is stopped.",
                hint: "Start it with `branch start \(branch.name) --project \(project.name)`.")
        }
        var info = servers.spec(branch).superuserConnection
        if let login {
            info.user = login.user
            info.password = login.password
        }
        info.database = project.database
        info.applicationName = "branch \(purpose)"
        let connection = info
        let target = await sessionTarget(connection, branch: branch, project: project)
        return try await servers.keepingAwake([branch]) {
            try await context.sessionPool.withSession(connection, target, body)
        }
    }

    /// Where `SessionPool` keeps sessions to `branch` made with `connection`: per role, password
    /// and database, for the server's current start, idle only if the project allows the connections.
    func sessionTarget(_ connection: ConnectionInfo, branch: BranchRecord, project: ProjectRecord) async -> SessionPool.Target {
        let branchKey = Activity.key(branch)
        return SessionPool.Target(
            key: SessionPool.key(branchKey, user: connection.user, password: connection.password, database: connection.database),
            generation: await context.dataAPI.generation(branchKey), keepsIdle: SessionPool.keepsIdle(maxConnections: project.maxConnections))
    }
}
