import BranchCatalog
package import BranchCore
import BranchPostgres
import Foundation

/// The pooled endpoint of every project (PgBouncer): which branch each entry reaches, and
/// checkout, which moves a project's entry to another branch.
package struct FrontDoor: EnginePart {
    let context: EngineContext

    /// Rewrites the pooler's configuration from the catalog and applies it online: an entry per
    /// ready branch (`project__branch`) and one per project that reaches the checked-out branch.
    func sync() async throws {
        let (projects, branches) = try await catalog.read { tx in (try tx.projects(), try tx.allBranches()) }
        let ready = Dictionary(uniqueKeysWithValues: projects.filter { $0.state == .ready }.map { ($0.name, $0) })
        var entries: [PoolerEntry] = []
        for branch in branches where branch.state == .ready {
            guard let project = ready[branch.project] else { continue }
            let allowlist = Allowlist(stored: project.allowlist)
            entries.append(PoolerEntry(
                name: Self.entryName(branch.project, branch.name), port: branch.port, database: project.database, role: project.role,
                allowlist: allowlist))
            if project.checkedOut == branch.name {
                entries.append(PoolerEntry(
                    name: project.name.rawValue, port: branch.port, database: project.database, role: project.role, allowlist: allowlist))
            }
        }
        let users = ready.values.sorted { $0.name < $1.name }.map { (role: $0.role, verifier: $0.verifier) }
        try await pooler.apply(entries: entries, users: users)
    }

    /// The pooler database name of one branch: `project__branch` (`__` cannot occur in names).
    package static func entryName(_ project: ResourceName, _ branch: ResourceName) -> String { "\(project)__\(branch)" }

    /// The pooler entries that reach `branch`: its own, and the project's if it is checked out.
    func entries(of branch: BranchRecord, project: ProjectRecord?) -> [String] {
        var names = [Self.entryName(branch.project, branch.name)]
        if project?.checkedOut == branch.name { names.append(branch.project.rawValue) }
        return names
    }

    /// Points the project's pooled endpoint at another branch: new connections made with the
    /// app's unchanged URL reach it; PgBouncer recycles its server connections to the old one.
    package func checkout(project projectName: String, branch branchName: String) async throws -> CheckoutChange {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try tx.requireProject(projectName)
            return (project, try tx.requireBranch(project.name, branchName))
        }) { (project, branch) in
            let previous = project.checkedOut
            let (_, timing) = try await journal.run("checkout", project: project.name, target: branch.name.rawValue) { op in
                if !servers.isRunning(branch) {
                    try await op.step("start") { try await servers.start(branch) }
                    try await catalog.write { tx in
                        var running = branch
                        running.desired = .running
                        try tx.update(running)
                    }
                }
                try await op.step("catalog") {
                    try await catalog.write { tx in
                        var updated = project
                        updated.checkedOut = branch.name
                        try tx.update(updated)
                    }
                }
                op.onFailure("restore previous checkout") {
                    try await catalog.write { tx in try tx.update(project) }
                    try await sync()
                }
                try await op.step("pooler reload") {
                    try await sync()
                    // The project's entry may have been paused for the branch it pointed at before.
                    await pooler.resume(project.name.rawValue)
                }
            }
            return CheckoutChange(project: project.name.rawValue, previous: previous.rawValue, checkedOut: branch.name.rawValue, operation: timing)
        }
    }

    /// How to reach the project's stable pooled endpoint (the checked-out branch).
    func pooledConnection(_ project: ProjectRecord) -> ConnectionDetails {
        connection(project, port: configuration.poolerPort, database: project.name.rawValue, pooled: true, branch: project.checkedOut)
    }

    func connection(_ project: ProjectRecord, port: Int, database: String, pooled: Bool, branch: ResourceName) -> ConnectionDetails {
        var info = ConnectionInfo(host: configuration.publicHost, port: port, user: project.role, database: database, password: project.password)
        // The pooler refuses plain TCP when it has a certificate; say so in the URL.
        if pooled, configuration.tls != nil { info.sslMode = "require" }
        return ConnectionDetails(
            url: info.url, host: info.host, port: info.port, user: info.user, password: project.password, database: info.database,
            pooled: pooled, branch: branch.rawValue)
    }
}
