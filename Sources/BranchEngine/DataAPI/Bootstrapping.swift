import BranchAuth
import BranchCatalog
import BranchPostgres
import BranchRuntime
import Foundation
import Logging

/// Makes sure a branch's database has what the data API needs (roles, grants, the `auth`
/// schema and helpers, pgcrypto, the schema-version trigger): new projects get it from the
/// template; databases made before, or restored from an older snapshot, get it here, once per
/// server start, under a lock so concurrent first requests run the script once.
struct DataAPIBootstrapping: EnginePart {
    let context: EngineContext

    func ensure(_ branch: BranchRecord, project: ProjectRecord) async throws {
        let key = Activity.key(branch)
        let generation = await context.dataAPI.generation(key)
        if await context.dataAPI.isBootstrapped(key, generation: generation) { return }
        try await context.locks.withLock("data-api-bootstrap:\(key)") {
            if await context.dataAPI.isBootstrapped(key, generation: generation) { return }
            var info = servers.spec(branch).superuserConnection
            info.database = project.database
            try await withConnection(info) { connection in
                let installed = try await connection.query(DataAPIBootstrap.installedVersionQuery).scalar.flatMap { Int($0) }
                guard installed.map({ $0 < DataAPIBootstrap.version }) ?? true else { return }
                _ = try await connection.execute("BEGIN")
                do {
                    _ = try await connection.execute(DataAPIBootstrap.sql(databaseOwner: project.role))
                    _ = try await connection.execute("COMMIT")
                } catch {
                    _ = try? await connection.execute("ROLLBACK")
                    throw error
                }
                logger.info("data API objects installed", metadata: ["branch": "\(key)", "version": "\(DataAPIBootstrap.version)"])
            }
            await context.dataAPI.markBootstrapped(key, generation: generation)
        }
    }

    /// At service start: every running branch of every project, so projects made before the data
    /// API existed get it without waiting for a request. Failures are logged, not fatal.
    func runningBranches() async {
        let projects = Dictionary(uniqueKeysWithValues: ((try? await catalog.projects()) ?? []).map { ($0.name, $0) })
        for branch in (try? await catalog.allBranches()) ?? [] where branch.state == .ready && servers.isRunning(branch) {
            guard let project = projects[branch.project], project.state == .ready else { continue }
            do {
                try await ensure(branch, project: project)
            } catch {
                logger.error("could not install the data API objects", metadata: ["branch": "\(Activity.key(branch))", "error": "\(error)"])
            }
        }
    }
}
