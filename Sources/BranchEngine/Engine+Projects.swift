public import BranchAPI
import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

extension Engine {
    static let mainBranch = try! ResourceName(validating: "main")

    /// Creates a project: a writable snapshot of the warm template, started, with its owner role
    /// and database renamed to the project's name and a generated SCRAM password. No initdb.
    public func createProject(_ request: CreateProjectRequest) async throws -> ProjectCreated {
        let name = try ResourceName(validating: request.name, kind: "project name")
        if let settings = request.settings { try validate(settings) }
        return try await withProjectLock(name.rawValue) {
            if try await catalog.project(name) != nil { throw EngineError.projectExists(name) }
            try storage.requireFreeSpace(configuration.freeSpaceReserve)
            try await ensureTemplate()
            let template = layout.template(major: installation.major)
            let (project, timing) = try await journal.run("project.create", project: name, target: name.rawValue) { op in
                let port = try await self.allocatePort()
                let password = Identifiers.secret()
                var project = ProjectRecord(
                    name: name, state: .creating, pgMajor: self.installation.major, role: name.rawValue, database: name.rawValue,
                    password: password, verifier: try Scram.verifier(password: password), checkedOut: Self.mainBranch,
                    createdAt: Date(), operationID: op.id)
                if let settings = request.settings { Self.apply(settings, to: &project) }
                var main = BranchRecord(
                    project: name, name: Self.mainBranch, parent: nil, baseSnapshot: nil, port: port, state: .creating,
                    desired: .running, createdAt: Date(), operationID: op.id)
                // main's WAL lineage starts from an "origin" snapshot of its fresh data, so it can
                // be re-created at any point of its history.
                var origin = SnapshotRecord(
                    id: try await self.unusedSnapshotID(), project: name, name: nil, sourceBranch: Self.mainBranch, kind: .automatic,
                    state: .creating, createdAt: Date(), operationID: op.id)
                let lineage = self.newLineage(project: name, branch: Self.mainBranch, startSnapshot: origin.id)
                main.lineage = lineage.id
                origin.lineage = lineage.id
                try await op.step("catalog") {
                    try await self.catalog.write { [project, main, origin] tx in
                        try tx.insert(project)
                        try tx.insert(main)
                        try tx.insert(lineage)
                        try tx.insert(origin)
                        try tx.save(Self.defaultSnapshotSchedule(name))
                    }
                }
                op.onFailure("remove catalog rows") { try await self.catalog.write { try $0.deleteProject(name) } }
                await FaultInjection.point("project.create.after-catalog")

                op.onFailure("remove project files") { try await self.removeProjectFiles(name) }
                try self.ensureProjectDirectories(name)
                let branchPath = self.layout.branch(name, Self.mainBranch)
                try await op.step("snapshot template") {
                    try await self.storage.snapshot(from: template, to: branchPath, readOnly: false)
                }
                await FaultInjection.point("project.create.after-snapshot")
                try await op.step("origin snapshot") {
                    try await self.storage.snapshot(from: branchPath, to: self.layout.snapshot(name, origin.id), readOnly: true)
                    origin.walStart = await self.walStart(of: main)
                    origin.state = .ready
                }

                let spec = self.spec(main)
                op.onFailure("stop server") { try await self.runtime.stop(spec) }
                try await op.step("start") {
                    try self.prepareClone(dataDirectory: spec.dataDirectory, branch: main, project: project)
                    try await self.startServer(main)
                }
                await FaultInjection.point("project.create.after-start")

                try await op.step("owner role") {
                    let connection = try await PGConnection.connect(spec.superuserConnection)
                    try await connection.execute("""
                        ALTER ROLE \(SQL.identifier(ClusterFiles.templateRole)) RENAME TO \(SQL.identifier(project.role));
                        ALTER ROLE \(SQL.identifier(project.role)) PASSWORD \(SQL.literal(project.verifier));
                        ALTER DATABASE \(SQL.identifier(ClusterFiles.templateDatabase)) RENAME TO \(SQL.identifier(project.database));
                        """)
                }
                project.state = .ready
                main.state = .ready
                try await op.step("catalog") {
                    try await self.catalog.write { [project, main, origin] tx in
                        try tx.update(project)
                        try tx.update(main)
                        try tx.update(origin)
                    }
                }
                await FaultInjection.point("project.create.after-ready")
                try await op.step("pooler") { try await self.syncPooler() }
                return project
            }
            let info = try await projectInfo(project)
            return ProjectCreated(project: info, connection: pooledConnection(project), operation: timing)
        }
    }

    public func listProjects() async throws -> ProjectList {
        let projects = try await catalog.projects().filter { $0.state == .ready }
        var infos: [ProjectInfo] = []
        for project in projects { infos.append(try await projectInfo(project)) }
        return ProjectList(projects: infos)
    }

    public func project(_ name: String) async throws -> ProjectInfo {
        let project = try await catalog.read { try self.requireProject(name, in: $0) }
        return try await projectInfo(project)
    }

    /// Deletes a project with every branch and snapshot. Refuses when branches other than main
    /// exist, unless `force`. Once started it runs to completion, at the next start if need be.
    public func deleteProject(_ name: String, force: Bool) async throws -> DeleteResult {
        let validName = try ResourceName(validating: name, kind: "project name")
        return try await withProjectLock(validName.rawValue, checking: { tx -> (ProjectRecord, [BranchRecord]) in
            guard let project = try tx.project(validName) else { throw EngineError.projectNotFound(name) }
            if project.state == .creating { throw EngineError.notReady("Project '\(name)'", state: "creating") }
            return (project, try tx.branches(validName))
        }) { (project, branches) in
            let others = branches.filter { $0.name != Self.mainBranch }
            if !others.isEmpty && !force {
                throw EngineError(
                    "project_has_branches", 409,
                    "Project '\(name)' has \(others.count) branch\(others.count == 1 ? "" : "es") besides main (\(others.map(\.name.rawValue).joined(separator: ", "))).",
                    hint: "Delete them first, or pass --force to delete the project with all its branches.")
            }
            let (_, timing) = try await journal.run("project.delete", project: validName, target: validName.rawValue) { op in
                try await op.step("mark deleting") {
                    try await self.catalog.write { tx in
                        var marked = project
                        marked.state = .deleting
                        try tx.update(marked)
                    }
                }
                await FaultInjection.point("project.delete.after-mark")
                try await op.step("pooler") { try await self.syncPooler() }
                try await op.step("stop servers") {
                    for branch in branches { try await self.stopServer(branch) }
                }
                await FaultInjection.point("project.delete.after-stop")
                try await op.step("delete subvolumes") { try await self.removeProjectFiles(validName) }
                try await op.step("catalog") { try await self.catalog.write { try $0.deleteProject(validName) } }
                for branch in branches {
                    await self.supervision.forget(SupervisorState.key(branch))
                    await self.metricsStore.forget(project: branch.project.rawValue, branch: branch.name.rawValue)
                }
            }
            return DeleteResult(deleted: [validName.rawValue], operation: timing)
        }
    }

    public func projectConnection(_ name: String) async throws -> ConnectionResponse {
        let project = try await catalog.read { try self.requireProject(name, in: $0) }
        return pooledConnection(project)
    }

    // MARK: Helpers

    func pooledConnection(_ project: ProjectRecord) -> ConnectionResponse {
        let info = ConnectionInfo(
            host: configuration.publicHost, port: configuration.poolerPort, user: project.role, database: project.name.rawValue,
            password: project.password)
        return ConnectionResponse(
            url: info.url, host: info.host, port: info.port, user: info.user, password: project.password, database: info.database,
            pooled: true, branch: project.checkedOut.rawValue)
    }

    func ensureProjectDirectories(_ name: ResourceName) throws {
        try Files.ensureDirectory(layout.project(name), mode: 0o711)
        try Files.ensureDirectory(layout.branches(name), mode: 0o711)
        try Files.ensureDirectory(layout.snapshots(name), mode: 0o711)
    }

    /// Deletes every subvolume of a project, its directories and its logs.
    func removeProjectFiles(_ name: ResourceName) async throws {
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
