public import BranchAPI
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

extension Engine {
    /// Points the project's pooled endpoint at another branch: new connections made with the
    /// app's unchanged URL reach it; PgBouncer recycles its server connections to the old one.
    public func checkout(project projectName: String, _ request: CheckoutRequest) async throws -> CheckoutResult {
        let projectKey = try ResourceName(validating: projectName, kind: "project name")
        return try await withProjectLock(projectKey.rawValue, checking: { tx in
            let project = try self.requireProject(projectName, in: tx)
            return (project, try self.requireBranch(project.name, request.branch, in: tx))
        }) { (project, branch) in
            let previous = project.checkedOut
            let (_, timing) = try await journal.run("checkout", project: project.name, target: branch.name.rawValue) { op in
                if !self.runtime.state(self.spec(branch)).isRunning {
                    try await op.step("start") { try await self.startServer(branch) }
                    try await self.catalog.write { tx in
                        var running = branch
                        running.desired = .running
                        try tx.update(running)
                    }
                }
                try await op.step("catalog") {
                    try await self.catalog.write { tx in
                        var updated = project
                        updated.checkedOut = branch.name
                        try tx.update(updated)
                    }
                }
                op.onFailure("restore previous checkout") {
                    try await self.catalog.write { tx in try tx.update(project) }
                    try await self.syncPooler()
                }
                try await op.step("pooler reload") {
                    try await self.syncPooler()
                    // The project's entry may have been paused for the branch it pointed at before.
                    await self.pooler.resume(project.name.rawValue)
                }
            }
            return CheckoutResult(
                project: project.name.rawValue, previous: previous.rawValue, checkedOut: branch.name.rawValue, operation: timing)
        }
    }
}
