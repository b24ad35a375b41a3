import BranchAPI
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

extension Engine {
    /// Rewrites the pooler's configuration from the catalog and applies it online: an entry per
    /// ready branch (`project__branch`) and one per project that reaches the checked-out branch.
    func syncPooler() async throws {
        let (projects, branches) = try await catalog.read { tx in (try tx.projects(), try tx.allBranches()) }
        let ready = Dictionary(uniqueKeysWithValues: projects.filter { $0.state == .ready }.map { ($0.name, $0) })
        var entries: [PoolerEntry] = []
        for branch in branches where branch.state == .ready {
            guard let project = ready[branch.project] else { continue }
            entries.append(PoolerEntry(name: Self.poolerName(branch.project, branch.name), port: branch.port, database: project.database))
            if project.checkedOut == branch.name {
                entries.append(PoolerEntry(name: project.name.rawValue, port: branch.port, database: project.database))
            }
        }
        let users = ready.values.sorted { $0.name < $1.name }.map { (role: $0.role, verifier: $0.verifier) }
        try await pooler.apply(entries: entries, users: users)
    }

    /// The pooler database name of one branch: `project__branch` (`__` cannot occur in names).
    static func poolerName(_ project: ResourceName, _ branch: ResourceName) -> String { "\(project)__\(branch)" }
}
