import BranchAuth
import BranchCatalog
import BranchCore
import BranchPostgres
package import BranchREST
import BranchRuntime
import Foundation
import Logging

/// A project's data API: Supabase's REST (PostgREST) and Auth (GoTrue) protocols served for the
/// checked-out branch (`/p/{project}`) or one branch (`/p/{project}/b/{branch}`).
///
/// One request, top to bottom: find the project and branch; check the API key and the JWT
/// against the project's secret; wake the branch if it is suspended and keep it awake while the
/// request runs; make sure its database has the roles, `auth` schema and helpers the protocols
/// need; then hand the request to the REST or Auth handler on a pooled connection.
package struct DataAPI: EnginePart {
    let context: EngineContext

    package enum Service: Sendable { case rest, auth }

    /// The protocols' settings for every project (one exposed schema, PostgREST's 1000-row cap).
    /// The version check is the bootstrap's counter: every served database has it.
    static let restSettings = RESTSettings(exposedSchemas: ["public"], maxRows: 1000, versionQuery: SchemaLoader.counterQuery)

    /// Serves one request. `baseURL` is the address the client used, up to `/p/{project}[/b/{branch}]`.
    /// Never throws: every failure is an error response in the protocol's own shape.
    package func handle(project: String, branch: String?, service: Service, baseURL: String, request: DataRequest) async -> DataResponse {
        do {
            return try await serve(project: project, branchName: branch, service: service, baseURL: baseURL, request: request)
        } catch let error as RESTError {
            return error.response
        } catch let error as any ReportableError {
            return Self.restError(error).response
        } catch {
            logger.error("data API request failed", metadata: ["project": "\(project)", "error": "\(error)"])
            return RESTError(status: 500, code: "internal_error", message: "The request failed: \(error)").response
        }
    }

    private func serve(project projectName: String, branchName: String?, service: Service, baseURL: String, request: DataRequest) async throws -> DataResponse {
        let (project, branch) = try await route(projectName, branchName)
        let secret = try await secrets.signingSecret(project: project.name.rawValue)
        let apiKey = try APIKeyCheck.verifyAPIKey(in: request, secret: secret, tokens: state.tokens)

        try await servers.resumeIfSuspended(branch, cause: "data API request")
        guard await isRunning(branch) else {
            throw RESTError(
                status: 503, code: "branch_stopped", message: "Branch '\(branch.name)' of project '\(project.name)' is stopped.",
                hint: "Start it with `branch start \(branch.name) --project \(project.name)`.")
        }
        return try await servers.keepingAwake([branch]) {
            try await bootstrap.ensure(branch, project: project)
            switch service {
            case .rest:
                let identity = try APIKeyCheck.identity(of: request, apiKey: apiKey, secret: secret, tokens: state.tokens)
                return try await rest(request, identity: identity, branch: branch, project: project)
            case .auth:
                let context = AuthContext(
                    project: project.name.rawValue, jwtSecret: secret, issuer: "\(baseURL)/auth/v1",
                    apiKeyRole: apiKey.claims["role"]?.stringValue ?? "anon", autoConfirm: true,
                    database: PooledAuthDatabase(pool: await pool(branch, project: project, role: DataAPIBootstrap.authRole), state: state, branchKey: Activity.key(branch)),
                    limiter: await state.limiter(project.name.rawValue), now: { Date() })
                return await AuthHandler.handle(request, context: context)
            }
        }
    }

    /// Whether the branch's server runs: asked of the runtime once per server start (a start or a
    /// stop bumps the generation), not on every request.
    private func isRunning(_ branch: BranchRecord) async -> Bool {
        let key = Activity.key(branch)
        let generation = await state.generation(key)
        if await state.seenRunning(key, generation: generation) { return true }
        guard servers.isRunning(branch) else { return false }
        await state.markRunning(key, generation: generation)
        return true
    }

    /// The project and the branch an address reaches (the checked-out one without a branch name).
    private func route(_ projectName: String, _ branchName: String?) async throws -> (ProjectRecord, BranchRecord) {
        let key = "\(projectName)/\(branchName ?? "")"
        let generation = catalog.writeGeneration
        if let route = state.routes.route(key, generation: generation) { return (route.project, route.branch) }
        let route = try await catalog.read { tx -> RouteCache.Route in
            let project = try tx.requireProject(projectName)
            return RouteCache.Route(project: project, branch: try tx.requireBranch(project.name, branchName ?? project.checkedOut.rawValue))
        }
        state.routes.store(route, for: key, generation: generation)
        return (route.project, route.branch)
    }

    /// A REST request on a pooled `authenticator` connection, with the branch's schema cache (the
    /// handler checks its version in the request's own round trip and reloads it after DDL).
    private func rest(_ request: DataRequest, identity: RequestIdentity, branch: BranchRecord, project: ProjectRecord) async throws -> DataResponse {
        let key = Activity.key(branch)
        let pool = await pool(branch, project: project, role: DataAPIBootstrap.requestRole)
        let state = self.state
        return try await pool.withConnection(generation: await state.generation(key)) { connection in
            let cached = await state.schema(key)
            let outcome = await RESTHandler.handle(request, identity: identity, schema: cached, settings: Self.restSettings, connection: connection)
            if outcome.schema.version != cached?.version, !outcome.schema.version.isEmpty { await state.setSchema(outcome.schema, for: key) }
            return (outcome.response, !connection.isHealthy && outcome.response.status >= 500)
        }
    }

    private func pool(_ branch: BranchRecord, project: ProjectRecord, role: String) async -> ConnectionPool {
        var info = servers.spec(branch).superuserConnection
        info.user = role
        info.database = project.database
        info.applicationName = "branch data API"
        let connection = info
        return await state.pool(Activity.key(branch), role: role) { try await PGConnection.connect(connection) }
    }

    private var state: DataAPIState { context.dataAPI }
    private var bootstrap: DataAPIBootstrapping { DataAPIBootstrapping(context: context) }
    private var secrets: ProjectKeys { ProjectKeys(context: context) }

    /// An engine failure (unknown project, stopped branch, …) in PostgREST's four-key shape.
    static func restError(_ error: any ReportableError) -> RESTError {
        let status: Int = switch error.code.category {
        case .notFound: 404
        case .invalidInput: 400
        case .conflict: 409
        case .unavailable: 503
        default: 500
        }
        return RESTError(status: status, code: error.code.rawValue, message: error.message, hint: error.hint)
    }
}

/// Auth's transactions, on the branch's pooled `supabase_auth_admin` connections.
struct PooledAuthDatabase: AuthDatabase {
    let pool: ConnectionPool
    let state: DataAPIState
    let branchKey: String

    func transaction<T: Sendable>(_ body: @Sendable (PGConnection) async throws -> T) async throws -> T {
        let result: Result<T, any Error> = try await pool.withConnection(generation: await state.generation(branchKey)) { connection in
            do {
                _ = try await connection.execute("BEGIN")
                let value = try await body(connection)
                _ = try await connection.execute("COMMIT")
                return (.success(value), false)
            } catch {
                if connection.isHealthy { _ = try? await connection.execute("ROLLBACK") }
                return (.failure(error), !connection.isHealthy)
            }
        }
        return try result.get()
    }
}
