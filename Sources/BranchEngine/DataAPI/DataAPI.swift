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
        await answering(project: project) {
            try await serve(project: project, branchName: branch, service: service, baseURL: baseURL, request: request)
        }
    }

    /// The response `body` gives, or its failure as an error response in PostgREST's shape.
    private func answering(project: String, _ body: () async throws -> DataResponse) async -> DataResponse {
        do {
            return try await body()
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
        let (secret, current) = try await secrets.verification(project: project.name.rawValue)
        // A mailed link and a provider sign-in are opened by a browser, which sends no key:
        // `GET /auth/v1/verify`, `/authorize` and `/callback` are open, as behind Supabase's gateway
        // (the link's token, the provider's code and the signed state are the credentials).
        let openLink = service == .auth && request.method.uppercased() == "GET" && Self.browserPaths.contains(request.path)
        let apiKey = openLink ? nil : try APIKeyCheck.verifyAPIKey(in: request, secret: secret, current: current, tokens: state.tokens)
        let auth = service == .auth ? try await AuthSettings(context: context).policy(project: project.name.rawValue) : nil
        // A keyless request that cannot succeed is turned away before it wakes the branch.
        if openLink, let auth, let refused = AuthHandler.refusedBeforeWaking(request, policy: auth.policy, secret: secret) { return refused }

        try await wake(branch, project: project, cause: "data API request")
        return try await servers.keepingAwake([branch]) {
            try await bootstrap.ensure(branch, project: project)
            switch service {
            case .rest:
                let key = try apiKey ?? APIKeyCheck.verifyAPIKey(in: request, secret: secret, current: current, tokens: state.tokens)
                let identity = try APIKeyCheck.identity(of: request, apiKey: key, secret: secret, current: current, tokens: state.tokens)
                return try await rest(request, identity: identity, branch: branch, project: project)
            case .auth:
                var context = AuthContext(
                    project: project.name.rawValue, jwtSecret: secret, issuer: "\(baseURL)/auth/v1",
                    apiKeyRole: apiKey?.claims["role"]?.stringValue ?? "anon",
                    policy: auth?.policy ?? AuthPolicy(),
                    database: PooledAuthDatabase(pool: await pool(branch, project: project, role: DataAPIBootstrap.authRole), state: state, branchKey: Activity.key(branch)),
                    limiter: await state.limiter(project.name.rawValue), mailBudget: state.mailBudget,
                    linkBase: (auth?.linkOrigin ?? configuration.publicURL) + Self.routePrefix(project: projectName, branch: branchName) + "/auth/v1",
                    now: { Date() })
                context.currentKeys = current
                context.oauthHTTP = ProviderHTTPClient.shared
                return await AuthHandler.handle(request, context: context)
            }
        }
    }

    /// The auth paths a browser opens, without an API key.
    static let browserPaths: Set<String> = ["/verify", "/authorize", "/callback"]

    /// `/p/{project}[/b/{branch}]`, as the client addressed it.
    static func routePrefix(project: String, branch: String?) -> String {
        "/p/\(project)" + (branch.map { "/b/\($0)" } ?? "")
    }

    /// Resumes the branch if it is suspended; a stopped branch is 503 `branch_stopped`.
    private func wake(_ branch: BranchRecord, project: ProjectRecord, cause: String) async throws {
        try await servers.resumeIfSuspended(branch, cause: cause)
        guard await isRunning(branch) else {
            throw RESTError(
                status: 503, code: "branch_stopped", message: "Branch '\(branch.name)' of project '\(project.name)' is stopped.",
                hint: "Start it with `branch start \(branch.name) --project \(project.name)`.")
        }
    }

    // MARK: Documents for agents

    /// A branch's documents for agents: `openapi.json` (also `swagger.json`) and `ai-spec.md`.
    package enum Document: Sendable { case openAPI, brief }

    /// Serves a branch's OpenAPI 3.1 document or agent brief, built from its schema cache (checked
    /// against the database's schema version first, so it is current after every migration) and
    /// its row-level security. Only for the project's service_role key, as `apikey` or as
    /// `Authorization: Bearer` (the effective JWT must be service_role): no key or another
    /// project's is 401, the anon key 401 and a user's token 403, in PostgREST's error shape.
    /// `serviceURL` is the service's own address (`http://host:8420`), for the management API.
    package func document(
        _ document: Document, project: String, branch: String?, baseURL: String, serviceURL: String, requestBodyLimit: Int, request: DataRequest
    ) async -> DataResponse {
        await answering(project: project) {
            let method = request.method.uppercased()
            guard method == "GET" || method == "HEAD" else {
                var error = RESTError(status: 405, code: "method_not_allowed", message: "The agent documents are read with GET.")
                error.headers = [("Allow", "GET, HEAD")]
                throw error
            }
            let (projectRecord, branchRecord) = try await route(project, branch)
            let (secret, current) = try await secrets.verification(project: projectRecord.name.rawValue)
            // The key may come as the bearer alone (`Authorization: Bearer <service_role key>`).
            var keyed = request
            if keyed.header("apikey") == nil, !FormQuery.pairs(request.rawQuery).contains(where: { $0.key == "apikey" }),
                let authorization = request.header("authorization"), authorization.lowercased().hasPrefix("bearer ")
            {
                keyed.headers.append(("apikey", String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)))
            }
            let apiKey = try APIKeyCheck.verifyAPIKey(in: keyed, secret: secret, current: current, tokens: state.tokens)
            let identity = try APIKeyCheck.identity(of: keyed, apiKey: apiKey, secret: secret, current: current, tokens: state.tokens)
            guard identity.role == "service_role" else {
                throw RESTError(
                    status: identity.isAnonymous ? 401 : 403, code: "42501", message: "permission denied for the agent documents",
                    hint: "Read them with the project's service_role key (`branch keys`), or run `branch docs`.")
            }
            try await wake(branchRecord, project: projectRecord, cause: "agent documents")
            let (schema, security) = try await servers.keepingAwake([branchRecord]) {
                try await bootstrap.ensure(branchRecord, project: projectRecord)
                return try await schemaAndSecurity(branchRecord, project: projectRecord)
            }
            var context = AgentDocsContext(
                project: projectRecord.name.rawValue, branch: branchRecord.name.rawValue, followsCheckout: branch == nil,
                baseURL: baseURL, serviceURL: serviceURL)
            context.exposedSchema = Self.restSettings.exposedSchemas.first ?? "public"
            context.limits.maxRows = Self.restSettings.maxRows
            context.limits.requestBodyBytes = requestBodyLimit
            let auth = try await AuthSettings(context: self.context).policy(project: projectRecord.name.rawValue).policy
            context.auth.allowSignup = auth.allowSignup
            context.auth.confirmEmail = auth.confirmEmail
            context.auth.sendsMail = auth.mailer != nil
            context.auth.providers = auth.providers.keys.map(\.rawValue).sorted()
            let (contentType, body): (String, [UInt8]) = switch document {
            case .openAPI: ("application/json; charset=utf-8", OpenAPIDocument.json(schema: schema, context: context, security: security))
            case .brief: ("text/markdown; charset=utf-8", Array(AgentBrief.markdown(schema: schema, security: security, context: context).utf8))
            }
            return DataResponse(status: 200, headers: [("Content-Type", contentType), ("Cache-Control", "no-cache")], body: method == "HEAD" ? [] : body)
        }
    }

    /// The branch's schema cache, reloaded when the database's schema version moved (and kept for
    /// REST requests), and the row-level security of its exposed relations, on a pooled connection.
    private func schemaAndSecurity(_ branch: BranchRecord, project: ProjectRecord) async throws -> (SchemaCache, [QualifiedName: TableSecurity]) {
        let key = Activity.key(branch)
        let pool = await pool(branch, project: project, role: DataAPIBootstrap.requestRole)
        let state = self.state
        let schemas = Self.restSettings.exposedSchemas
        let versionQuery = Self.restSettings.versionQuery
        let result: Result<(SchemaCache, [QualifiedName: TableSecurity]), PostgresError> = try await pool.withConnection(
            generation: await state.generation(key)
        ) { connection in
            do throws(PostgresError) {
                let version = try await connection.query(versionQuery).scalar
                var schema: SchemaCache
                if let cached = await state.schema(key), cached.version == version {
                    schema = cached
                } else {
                    schema = try await SchemaLoader.load(connection: connection, schemas: schemas)
                    if !schema.version.isEmpty { await state.setSchema(schema, for: key) }
                }
                let security = try await PolicyLoader.load(connection: connection, schemas: schemas)
                return (.success((schema, security)), false)
            } catch {
                return (.failure(error), !connection.isHealthy)
            }
        }
        return try result.get()
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
