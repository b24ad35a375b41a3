import BranchCatalog
package import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// Why a use case refused or failed. Codes are stable: clients and tests match on them.
package struct EngineError: ReportableError {
    package let code: ErrorCode
    package let message: String
    package let hint: String?

    init(_ code: ErrorCode, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    static func projectNotFound(_ name: String) -> EngineError {
        EngineError(.projectNotFound, "There is no project '\(name)'.", hint: "List projects with `branch project list`.")
    }
    static func branchProtected(_ name: ResourceName) -> EngineError {
        EngineError(
            .branchProtected, "Branch '\(name)' is protected: it cannot be deleted or reset.",
            hint: "Unprotect it first (`branch protect \(name) --off`).")
    }

    static func branchNotFound(_ project: ResourceName, _ name: String) -> EngineError {
        EngineError(.branchNotFound, "Project '\(project)' has no branch '\(name)'.", hint: "List branches with `branch list --project \(project)`.")
    }
    static func snapshotNotFound(_ project: ResourceName, _ id: String) -> EngineError {
        EngineError(.snapshotNotFound, "Project '\(project)' has no snapshot '\(id)'.", hint: "List snapshots with `branch snapshot list --project \(project)`.")
    }
    static func projectExists(_ name: ResourceName) -> EngineError {
        EngineError(.projectExists, "A project named '\(name)' already exists.", hint: "Pick another name.")
    }
    static func branchExists(_ project: ResourceName, _ name: ResourceName) -> EngineError {
        EngineError(.branchExists, "Project '\(project)' already has a branch '\(name)'.", hint: "Pick another name, or delete the branch first.")
    }
    static func snapshotNameTaken(_ project: ResourceName, _ name: ResourceName) -> EngineError {
        EngineError(.snapshotExists, "Project '\(project)' already has a snapshot named '\(name)'.", hint: "Pick another name.")
    }
    static func notReady(_ what: String, state: String) -> EngineError {
        EngineError(.notReady, "\(what) is \(state), not ready.", hint: "Wait for the running operation to finish, then retry.")
    }
    static func serviceStopping(_ what: String) -> EngineError {
        EngineError(.serviceStopping, "The service is shutting down; \(what) ended before its end.", hint: "Ask again once the service is back.")
    }
    static func forbidden(_ message: String, hint: String? = nil) -> EngineError {
        EngineError(.forbidden, message, hint: hint)
    }
    static func invalidRequest(_ message: String, hint: String? = nil) -> EngineError {
        EngineError(.invalidRequest, message, hint: hint)
    }
    static func noFreePort(_ range: ClosedRange<Int>) -> EngineError {
        EngineError(.noFreePort, "No free port is left in \(range.lowerBound)-\(range.upperBound).", hint: "Delete branches, or restart the service with a wider --port-range.")
    }
    static func internalError(_ message: String) -> EngineError {
        EngineError(.internalError, message)
    }
}
