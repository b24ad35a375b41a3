import Hummingbird
import BranchCatalog
import BranchCore
import BranchEngine
import Foundation
import HTTPTypes
import OpenAPIRuntime

/// What each operation of the API needs, in one table: a project role for the project in its path
/// (viewer reads; developer changes branches, data and schema; owner changes the project, its keys
/// and members), the instance admin, or only a signed-in caller, the handler then narrowing what
/// it answers (its own tokens, the projects it may see). An operation missing here is refused.
enum Permission: Equatable {
    case open
    case signedIn
    case instanceAdmin
    /// A role in the path's `{project}`.
    case project(ProjectRole)
    /// A role in the `?project=` filter, or the instance admin without one.
    case projectFilter(ProjectRole)

    static let operations: [String: Permission] = [
        "health": .open, "login": .open,
        "openapi": .signedIn, "whoAmI": .signedIn,
        "getStatus": .instanceAdmin, "prometheusMetrics": .instanceAdmin,
        "getVersion": .instanceAdmin, "upgrade": .instanceAdmin, "upgradePostgres": .instanceAdmin,
        "listOperations": .projectFilter(.viewer), "listEvents": .projectFilter(.viewer), "getMetrics": .projectFilter(.viewer),
        "listBackups": .projectFilter(.viewer), "getJob": .signedIn,
        "getBackup": .instanceAdmin, "deleteBackup": .instanceAdmin, "restoreBackup": .instanceAdmin, "verifyBackup": .instanceAdmin, "exportBackup": .instanceAdmin,
        "revealBackupKey": .instanceAdmin, "rotateBackupKey": .instanceAdmin, "acknowledgeBackupKey": .instanceAdmin,
        // Filtered or checked by the handler: the projects the caller sees; a project made by a
        // user is theirs; `/api/admin/query` names its project in the body.
        "listProjects": .signedIn, "createProject": .signedIn, "importProject": .signedIn, "adminQuery": .signedIn,
        "getProject": .project(.viewer), "updateProject": .project(.owner), "deleteProject": .project(.owner),
        "getAuthSettings": .project(.owner), "setAuthSettings": .project(.owner), "testAuthMail": .project(.owner),
        "listAuthProviders": .project(.owner), "setAuthProvider": .project(.owner), "removeAuthProvider": .project(.owner),
        "getProjectKeys": .project(.owner), "rotateProjectKeys": .project(.owner), "revokeProjectKey": .project(.owner),
        "getProjectConnection": .project(.developer), "checkout": .project(.developer),
        "listBranches": .project(.viewer), "getBranch": .project(.viewer), "getBranchLogs": .project(.viewer),
        "createBranch": .project(.developer), "deleteBranch": .project(.developer), "updateBranch": .project(.developer), "resetBranch": .project(.developer), "renameBranch": .project(.developer), "updateSnapshot": .project(.developer),
        "startBranch": .project(.developer), "stopBranch": .project(.developer), "getBranchConnection": .project(.developer),
        "exportBranch": .project(.developer), "pushTable": .project(.developer),
        "listSnapshots": .project(.viewer), "getSnapshot": .project(.viewer), "createSnapshot": .project(.developer),
        "deleteSnapshot": .project(.developer), "restoreSnapshot": .project(.developer),
        "listSchedules": .project(.viewer), "setSchedule": .project(.owner), "deleteSchedule": .project(.owner),
        "createBackup": .project(.developer), "diff": .project(.viewer), "merge": .project(.developer),
        "listMigrations": .project(.viewer), "applyMigration": .project(.developer), "rollbackMigration": .project(.developer),
        "runSQL": .project(.developer), "querySQL": .project(.viewer), "listSnippets": .project(.viewer), "saveSnippet": .project(.developer), "deleteSnippet": .project(.developer),
        "listMembers": .project(.owner), "setMember": .project(.owner), "removeMember": .project(.owner),
        "listUsers": .instanceAdmin, "createUser": .instanceAdmin, "deleteUser": .instanceAdmin, "setPassword": .signedIn,
        "listTokens": .signedIn, "createToken": .signedIn, "revokeToken": .signedIn,
        "listAudit": .projectFilter(.owner),
        // The instance's alert channels without ?project=, a project's with it.
        "getAlerts": .projectFilter(.owner), "setAlertChannel": .projectFilter(.owner), "removeAlertChannel": .projectFilter(.owner),
        "setAlertSettings": .projectFilter(.owner), "testAlerts": .projectFilter(.owner),
    ]

    /// The operations a project's service_role key may call (for its own project).
    static let projectKeyOperations: Set<String> = ["runSQL", "querySQL", "adminQuery", "listMigrations", "applyMigration", "rollbackMigration"]
}

/// Enforces `Permission.operations` before each handler runs, and writes every request that
/// changes something (any method but GET), and every download of a whole database, to the audit
/// log, with its outcome.
struct PermissionsMiddleware: ServerMiddleware {
    /// Where audit entries go; nil for routers without an engine (unit tests' stubs).
    let engine: Engine?

    /// Reads audited like changes: each hands someone a project's data wholesale.
    static let auditedReads: Set<String> = ["exportBranch", "exportBackup"]

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let caller = APICaller.current
        let project = metadata.pathParameters["project"].map { String($0).removingPercentEncoding ?? String($0) }
            ?? Self.queryProject(request.path)
        guard request.method != .get || Self.auditedReads.contains(operationID), let engine else {
            try Self.check(caller, operationID: operationID, project: project, pathProject: metadata.pathParameters["project"] != nil)
            if let engine, let project {
                try await AllowlistGuard.require(
                    project, address: RequestOrigin.clientAddress, engine: engine, caller: caller, operationID: operationID)
            }
            return try await next(request, body, metadata)
        }
        let path = String((request.path ?? "").prefix { $0 != "?" })
        func audit(status: Int, outcome: String) async {
            await engine.audit.record(AuditRecord(
                at: Date(), actor: caller.label, userID: caller.principal?.user.id, tokenID: caller.principal?.token.id, action: operationID,
                method: request.method.rawValue, path: path, project: project, address: RequestOrigin.clientAddress, status: status,
                outcome: outcome))
        }
        do {
            try Self.check(caller, operationID: operationID, project: project, pathProject: metadata.pathParameters["project"] != nil)
            // After the role check: a caller who may not see the project learns nothing from its list.
            if let project {
                try await AllowlistGuard.require(
                    project, address: RequestOrigin.clientAddress, engine: engine, caller: caller, operationID: operationID)
            }
            let (response, responseBody) = try await next(request, body, metadata)
            await audit(status: Int(response.status.code), outcome: response.status.kind == .successful ? "ok" : "http_\(response.status.code)")
            return (response, responseBody)
        } catch {
            let (status, detail) = ErrorMiddleware<BasicRequestContext>.classify(error)
            await audit(status: status, outcome: detail)
            throw error
        }
    }

    /// Throws unless `caller` may call `operationID` (on `project`).
    static func check(_ caller: APICaller, operationID: String, project: String?, pathProject: Bool) throws {
        if case .projectKey = caller {
            guard Permission.projectKeyOperations.contains(operationID) else { throw AuthMiddleware<BasicRequestContext>.Unauthorized(message: "A project key reaches only SQL and migrations.") }
            if pathProject, let project { try caller.require(.developer, in: project) }
            return
        }
        switch Permission.operations[operationID] {
        case .open?: return
        case .signedIn?:
            if case .unauthenticated = caller { throw AuthMiddleware<BasicRequestContext>.Unauthorized(message: "This endpoint needs a token.") }
        case .instanceAdmin?: try caller.requireInstanceAdmin()
        case .project(let role)?:
            guard let project else { throw APICaller.Forbidden(message: "This operation names no project.") }
            try caller.require(role, in: project)
        case .projectFilter(let role)?:
            if let project { try caller.require(role, in: project) } else { try caller.requireInstanceAdmin() }
        case nil:
            throw APICaller.Forbidden(message: "Operation \(operationID) has no permission rule; it is refused.")
        }
    }

    /// `project` from a `?project=…` query.
    static func queryProject(_ path: String?) -> String? {
        guard let path, let query = path.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
        for item in query.split(separator: "&") {
            let parts = item.split(separator: "=", maxSplits: 1)
            if parts.first == "project", parts.count == 2 {
                return String(parts[1]).removingPercentEncoding ?? String(parts[1])
            }
        }
        return nil
    }
}
