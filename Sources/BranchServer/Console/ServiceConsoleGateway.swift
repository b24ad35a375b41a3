import BranchAPI
import BranchCatalog
import BranchConsole
import BranchCore
import BranchEngine
import BranchREST
import Foundation
import Hummingbird

/// The console's way into the service: the very handlers of `/api/v1`, behind the same
/// permission table, allowlists and audit log, run as the user whose session token the console
/// holds. A console page can therefore do exactly what that user's API token could.
struct ServiceConsoleGateway: ConsoleGateway {
    let engine: Engine
    let api: APIHandlers

    /// How long a console session lasts (the cookie's lifetime too).
    static let sessionLifetime: TimeInterval = 12 * 3600

    var sessionTokenName: String { Identities.consoleSession }

    func signIn(email: String, password: String) async throws -> String {
        do {
            let (issued, _) = try await engine.identities.signIn(
                email: email, password: password, address: RequestOrigin.clientAddress, name: Identities.consoleSession, expiresIn: Self.sessionLifetime)
            return issued.text
        } catch {
            throw Self.failure(error)
        }
    }

    func checkPassword(token: String, password: String) async throws {
        let principal = try await self.principal(token: token)
        do {
            _ = try await engine.identities.verifyPassword(email: principal.user.email, password: password, address: RequestOrigin.clientAddress)
        } catch {
            throw Self.failure(error)
        }
    }

    func signOut(token: String) async {
        guard let principal = try? await self.principal(token: token) else { return }
        _ = try? await engine.identities.revokeToken(id: principal.token.id, caller: principal)
    }

    func viewer(token: String) async -> ConsoleViewer? {
        guard let principal = try? await engine.identities.authenticate(token: token) else { return nil }
        return ConsoleViewer(
            email: principal.user.email, isInstanceAdmin: principal.isInstanceAdmin,
            roles: Dictionary(uniqueKeysWithValues: principal.memberships.map { ($0.key, $0.value.rawValue) }), credential: principal,
            sessionID: principal.token.id)
    }

    /// The principal behind `token`: the one the session middleware resolved for this request
    /// (`viewer(token:)`, once per request, so revocation takes effect from the next request),
    /// else verified now (a call outside a request's session, e.g. a stream still open after it).
    func principal(token: String) async throws -> Principal {
        if let session = ConsoleSession.current, session.token == token, let principal = session.viewer.credential as? Principal {
            return principal
        }
        guard let principal = try? await engine.identities.authenticate(token: token) else {
            throw ConsoleFailure(status: 401, code: ErrorCode.unauthorized.rawValue, message: "Your session has ended.", hint: "Sign in again.")
        }
        return principal
    }

    func projectNames(token: String) async throws -> [String] {
        let principal = try await self.principal(token: token)
        return try await engine.projects.names().filter { principal.isInstanceAdmin || principal.role(in: $0) != nil }
    }

    func needsFirstRun() async -> Bool { engine.identities.firstRunPending() }

    func completeFirstRun(adminKey: String, email: String, password: String) async throws -> String {
        do {
            return try await engine.identities.completeFirstRun(
                proof: adminKey, adminKey: engine.adminKey, email: email, password: password, address: RequestOrigin.clientAddress,
                expiresIn: Self.sessionLifetime
            ).text
        } catch {
            throw Self.failure(error)
        }
    }

    func perform<T: Sendable>(
        _ operation: String, project: String?, token: String, changes: Bool, target: String?,
        _ body: @Sendable (any APIProtocol) async throws -> T
    ) async throws -> T {
        let caller = APICaller.principal(try await self.principal(token: token))
        return try await APICaller.$current.withValue(caller) {
            do {
                try PermissionsMiddleware.check(caller, operationID: operation, project: project, pathProject: project != nil)
                if let project {
                    try await AllowlistGuard.require(
                        project, address: RequestOrigin.clientAddress, engine: engine, caller: caller, operationID: operation)
                }
                let result = try await body(api)
                if changes { await audit(caller, operation, project: project, target: target, status: 200, outcome: "ok") }
                return result
            } catch {
                let failure = Self.failure(error)
                if changes { await audit(caller, operation, project: project, target: target, status: failure.status, outcome: failure.code) }
                throw failure
            }
        }
    }

    func authAdmin(
        project: String, branch: String?, token: String, changes: Bool, method: String, path: String, query: String, body: [UInt8]
    ) async throws -> (status: Int, body: [UInt8]) {
        let key = try await perform("getProjectKeys", project: project, token: token, changes: changes, target: "auth \(method) \(path)") {
            try await $0.getProjectKeys(.init(path: .init(project: project))).ok.body.json.serviceRoleKey
        }
        let request = DataRequest(
            method: method, path: path, rawQuery: query,
            headers: [("apikey", key), ("authorization", "Bearer \(key)"), ("content-type", "application/json")], body: body,
            clientAddress: RequestOrigin.clientAddress)
        // Links the auth module mails (invitations) name the address the console was reached at.
        let base = (RequestOrigin.current ?? "http://localhost") + "/p/\(project)" + (branch.map { "/b/\($0)" } ?? "")
        let response = await engine.dataAPI.handle(project: project, branch: branch, service: .auth, baseURL: base, request: request)
        return (response.status, response.body)
    }

    func audit(_ caller: APICaller, _ operation: String, project: String?, target: String?, status: Int, outcome: String) async {
        await engine.audit.record(AuditRecord(
            at: Date(), actor: caller.label, userID: caller.principal?.user.id, tokenID: caller.principal?.token.id, action: operation,
            method: "POST", path: "console" + (target.map { " " + $0 } ?? ""), project: project, address: RequestOrigin.clientAddress, status: status, outcome: outcome))
    }

    /// Any error as the console shows it, classified as the API's error bodies are.
    static func failure(_ error: any Error) -> ConsoleFailure {
        switch error {
        case let failure as ConsoleFailure:
            return failure
        case let error as any StatementFailureError:
            return ConsoleFailure(
                status: error.category.httpStatus, code: error.code.rawValue, message: error.message, hint: error.hint,
                position: error.failure.position, statementIndex: error.failure.statementIndex, statement: error.failure.statement)
        case let error as any ReportableError:
            return ConsoleFailure(status: error.category.httpStatus, code: error.code.rawValue, message: error.message, hint: error.hint)
        case let error as HTTPError:
            return ConsoleFailure(status: Int(error.status.code), code: ErrorCode.badRequest.rawValue, message: error.body ?? error.status.reasonPhrase)
        default:
            return ConsoleFailure(status: 500, code: ErrorCode.internalError.rawValue, message: "Something unexpected went wrong: \(error)")
        }
    }
}
