import BranchCatalog
import BranchCore

/// Finding what a request names, with the errors users get when it is not there or not ready.
extension CatalogTransaction {
    /// Validates a project name and finds the ready project.
    func requireProject(_ name: String) throws -> ProjectRecord {
        let validName = try ResourceName(validating: name, kind: "project name")
        guard let project = try project(validName) else { throw EngineError.projectNotFound(name) }
        guard project.state == .ready else { throw EngineError.notReady("Project '\(name)'", state: project.state.rawValue) }
        return project
    }

    /// Validates a branch name and finds the branch; `ready` demands it is not mid-operation.
    func requireBranch(_ project: ResourceName, _ name: String, ready: Bool = true) throws -> BranchRecord {
        let validName = try ResourceName(validating: name, kind: "branch name")
        guard let branch = try branch(project, validName) else { throw EngineError.branchNotFound(project, name) }
        if ready && branch.state != .ready {
            throw EngineError.notReady("Branch '\(name)'", state: branch.state.rawValue)
        }
        return branch
    }

    func requireSnapshot(_ project: ResourceName, _ idOrName: String) throws -> SnapshotRecord {
        guard let snapshot = try snapshot(project, idOrName: idOrName) else { throw EngineError.snapshotNotFound(project, idOrName) }
        guard snapshot.state == .ready else { throw EngineError.notReady("Snapshot '\(idOrName)'", state: snapshot.state.rawValue) }
        return snapshot
    }
}

extension Catalog {
    /// Whether the project's main follows a database outside Branch (`--mirror`).
    func isMirror(_ project: ResourceName) async throws -> Bool {
        try await read { try $0.mirror(project.rawValue) } != nil
    }
}

extension ResourceName {
    /// Every project starts with a branch of this name; it cannot be deleted without force.
    static let main = try! ResourceName(validating: "main")
}
