package import BranchCatalog
import BranchCore
import BranchSystem
package import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// Projects: each a Postgres cluster on its own subvolume, with an owner role, a database and a
/// `main` branch, made from the warm template.
package struct Projects: EnginePart {
    let context: EngineContext

    /// Creates a project: a writable snapshot of the warm template, started, with its owner role
    /// and database renamed to the project's name, a generated SCRAM password and a JWT secret
    /// for its data API keys. No initdb.
    /// `backups: false` (or `--no-default-backups` for the instance) leaves out the daily backup schedule.
    ///
    /// `populate`, when given (an import), fills the new database before the project turns ready:
    /// until then it is `creating`, so a failure or a kill leaves no half-made project behind.
    package func create(
        name rawName: String, settings: ProjectSettings? = nil, backups: Bool = true,
        operation kind: String = "project.create", populate: (@Sendable (PopulationTarget) async throws -> Void)? = nil
    ) async throws -> ProjectCreation {
        let withBackups = backups && configuration.defaultBackups
        let name = try ResourceName(validating: rawName, kind: "project name")
        if let settings { try settings.validate() }
        return try await context.withProjectLock(name.rawValue) {
            if try await catalog.project(name) != nil { throw EngineError.projectExists(name) }
            try await diskUsage.requireSpaceToGrow()
            try await Template(context: context).ensure()
            let template = layout.template(major: installation.major)
            let jwtSecret = ProjectKeys.newSecret()
            let (project, timing) = try await journal.run(kind, project: name, target: name.rawValue) { op in
                let port = try await context.allocatePort()
                let password = Identifiers.secret()
                var project = ProjectRecord(
                    name: name, state: .creating, pgMajor: installation.major, role: name.rawValue, database: name.rawValue,
                    password: password, verifier: try Scram.verifier(password: password), checkedOut: .main,
                    createdAt: Date(), operationID: op.id)
                settings?.apply(to: &project)
                var main = BranchRecord(
                    project: name, name: .main, parent: nil, baseSnapshot: nil, port: port, state: .creating,
                    desired: .running, createdAt: Date(), operationID: op.id)
                // main's WAL lineage starts from an "origin" snapshot of its fresh data, so it can
                // be re-created at any point of its history.
                var origin = SnapshotRecord(
                    id: try await snapshots.unusedID(), project: name, name: nil, sourceBranch: .main, kind: .automatic,
                    state: .creating, createdAt: Date(), operationID: op.id)
                let lineage = lineages.new(project: name, branch: .main, startSnapshot: origin.id)
                main.lineage = lineage.id
                origin.lineage = lineage.id
                try await op.step("catalog") {
                    try await catalog.write { [project, main, origin] tx in
                        try tx.insert(project)
                        try tx.setJWTSecret(jwtSecret, of: name)
                        try tx.insert(main)
                        try tx.insert(lineage)
                        try tx.insert(origin)
                        try tx.save(Scheduler.defaultSnapshotSchedule(name))
                        if withBackups { try tx.save(DefaultBackupSchedule.record(for: name)) }
                    }
                }
                op.onFailure("remove catalog rows") { try await catalog.write { try $0.deleteProject(name) } }
                await FaultInjection.point("project.create.after-catalog")

                op.onFailure("remove project files") { try await removeFiles(name) }
                try self.ensureDirectories(name)
                let branchPath = layout.branch(name, .main)
                try await op.step("snapshot template") {
                    try await storage.snapshot(from: template, to: branchPath, readOnly: false)
                }
                await FaultInjection.point("project.create.after-snapshot")
                try await op.step("origin snapshot") {
                    try await storage.snapshot(from: branchPath, to: layout.snapshot(name, origin.id), readOnly: true)
                    origin.walStart = await lineages.walStart(of: main)
                    origin.state = .ready
                }

                let spec = servers.spec(main)
                op.onFailure("stop server") { try await runtime.stop(spec) }
                try await op.step("start") {
                    try servers.prepareClone(dataDirectory: spec.dataDirectory, branch: main, project: project)
                    try await servers.start(main)
                }
                await FaultInjection.point("project.create.after-start")

                try await op.step("owner role") { try await OwnerRole.adopt(spec.superuserConnection, project: project) }
                if let populate {
                    var database = spec.superuserConnection
                    database.database = project.database
                    try await op.step("populate") {
                        try await populate(PopulationTarget(project: project, main: main, superuser: database))
                    }
                    await FaultInjection.point("project.create.after-populate")
                }
                project.state = .ready
                main.state = .ready
                try await op.step("catalog") {
                    try await catalog.write { [project, main, origin] tx in
                        try tx.update(project)
                        try tx.update(main)
                        try tx.update(origin)
                    }
                }
                await FaultInjection.point("project.create.after-ready")
                try await op.step("pooler") { try await frontDoor.sync() }
                return project
            }
            return ProjectCreation(
                project: try await presenter.project(project), connection: frontDoor.pooledConnection(project),
                keys: ProjectKeys.apiKeys(name, jwtSecret), operation: timing)
        }
    }

    /// A new project's database, reached as the superuser over its Unix socket, for `populate`.
    package struct PopulationTarget: Sendable {
        package let project: ProjectRecord
        package let main: BranchRecord
        package let superuser: ConnectionInfo
    }

    package func list() async throws -> [ProjectView] {
        try await presenter.projects(try await catalog.projects().filter { $0.state == .ready })
    }

    /// The names of the ready projects, sorted; a catalog read only (no sizes, no server states).
    package func names() async throws -> [String] {
        try await catalog.projects().filter { $0.state == .ready }.map(\.name.rawValue).sorted()
    }

    package func get(_ name: String) async throws -> ProjectView {
        try await presenter.project(try await catalog.read { try $0.requireProject(name) })
    }

    /// Deletes a project with every branch and snapshot. Refuses when branches other than main
    /// exist, unless `force`. Once started it runs to completion, at the next start if need be.
    package func delete(_ name: String, force: Bool) async throws -> Deletion {
        let validName = try ResourceName(validating: name, kind: "project name")
        return try await context.withProjectLock(validName.rawValue, checking: { tx -> (ProjectRecord, [BranchRecord]) in
            guard let project = try tx.project(validName) else { throw EngineError.projectNotFound(name) }
            if project.state == .creating { throw EngineError.notReady("Project '\(name)'", state: "creating") }
            return (project, try tx.branches(validName))
        }) { (project, branches) in
            let others = branches.filter { $0.name != .main }
            if !others.isEmpty && !force {
                throw EngineError(
                    .projectHasBranches,
                    "Project '\(name)' has \(others.count) branch\(others.count == 1 ? "" : "es") besides main (\(others.map(\.name.rawValue).joined(separator: ", "))).",
                    hint: "Delete them first, or pass --force to delete the project with all its branches.")
            }
            let (_, timing) = try await journal.run("project.delete", project: validName, target: validName.rawValue) { op in
                try await op.step("mark deleting") {
                    try await catalog.write { tx in
                        var marked = project
                        marked.state = .deleting
                        try tx.update(marked)
                    }
                }
                await FaultInjection.point("project.delete.after-mark")
                try await op.step("pooler") { try await frontDoor.sync() }
                try await op.step("mirror") { try await unfollow(project, branches: branches) }
                try await op.step("stop servers") {
                    for branch in branches { try await servers.stop(branch) }
                }
                await FaultInjection.point("project.delete.after-stop")
                try await op.step("delete subvolumes") { try await removeFiles(validName) }
                try await op.step("catalog") { try await catalog.write { try $0.deleteProject(validName) } }
                for branch in branches {
                    await context.activity.forget(Activity.key(branch))
                    await context.metricsStore.forget(project: branch.project.rawValue, branch: branch.name.rawValue)
                }
            }
            return Deletion(deleted: [validName.rawValue], operation: timing)
        }
    }

    /// The project's stable pooled endpoint (it reaches the checked-out branch).
    package func connection(_ name: String) async throws -> ConnectionDetails {
        frontDoor.pooledConnection(try await catalog.read { try $0.requireProject(name) })
    }

    /// A mirror's subscription and its slot on the source go first, and the publication Branch
    /// made there: left behind, a slot would hold back the source's WAL for ever.
    private func unfollow(_ project: ProjectRecord, branches: [BranchRecord]) async throws {
        let name = project.name.rawValue
        guard let mirror = try await catalog.read({ try $0.mirror(name) }), let main = branches.first(where: { $0.name == .main }) else { return }
        var leftover: String?
        if servers.isRunning(main) {
            let setup = MirrorSetup(source: try ExternalDatabase(url: mirror.sourceURL), subscription: mirror.subscription)
            leftover = try await withConnection(servers.databaseConnection(main, database: project.database)) { await setup.unsubscribe($0) }
            if mirror.createdPublication { await setup.dropPublication(mirror.publication) }
        } else {
            // main is stopped: its subscription goes with its files; the slot is dropped from the source's side.
            leftover = await MirrorSetup.forget(mirror)
        }
        if let leftover { logger.warning("mirror slot left on the source", metadata: ["project": "\(name)", "detail": "\(leftover)"]) }
    }

    // MARK: Files

    func ensureDirectories(_ name: ResourceName) throws {
        try Files.ensureDirectory(layout.project(name), mode: 0o711)
        try Files.ensureDirectory(layout.branches(name), mode: 0o711)
        try Files.ensureDirectory(layout.snapshots(name), mode: 0o711)
    }

    /// Deletes every subvolume of a project, its directories and its logs.
    func removeFiles(_ name: ResourceName) async throws {
        for directory in [layout.branches(name), layout.snapshots(name)] {
            for subvolume in storage.subvolumes(in: directory) {
                try await storage.deleteSubvolume(at: "\(directory)/\(subvolume)")
            }
        }
        for path in [layout.project(name), layout.logs(name)] where Files.exists(path) {
            try FileManager.default.removeItem(atPath: path)
        }
    }
}
