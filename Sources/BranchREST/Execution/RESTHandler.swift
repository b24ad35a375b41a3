package import BranchPostgres

/// The data API's `/rest/v1`: PostgREST's semantics over one dedicated connection.
package enum RESTHandler {
    /// One /rest/v1 request. `connection` is a dedicated connection (logged in as `authenticator`,
    /// idle, not in a transaction); everything runs in ONE transaction on it, which ends (COMMIT or
    /// ROLLBACK) whatever happens. Never throws: every failure is a PostgREST error response.
    package static func handle(
        _ request: DataRequest, identity: RequestIdentity, schema: SchemaCache, settings: RESTSettings, connection: PGConnection
    ) async -> DataResponse {
        let planned: PlannedRequest
        do throws(RESTError) {
            planned = try RequestPlanner.plan(request, schema: schema, settings: settings)
        } catch {
            return error.response
        }
        switch planned {
        case .schemaDocument(let exposed):
            return schemaDocument(request, identity: identity, schema: schema, exposed: exposed)
        case .statement(let plan):
            return await PlanExecutor.run(plan, request: request, identity: identity, connection: connection)
        }
    }

    /// PostgREST's Swagger document, for the service role only (it lists every table and column,
    /// which an anon key must not reveal): 401 for anon, 403 for other roles.
    private static func schemaDocument(_ request: DataRequest, identity: RequestIdentity, schema: SchemaCache, exposed: String) -> DataResponse {
        guard identity.role == "service_role" else {
            return RESTError(
                status: identity.isAnonymous ? 401 : 403, code: "42501", message: "permission denied for the schema document",
                hint: "Read it with the service_role key.").response
        }
        let body = SwaggerDocument.json(schema: schema, exposedSchema: exposed, host: request.header("host"), basePath: "/")
        return DataResponse(
            status: 200, headers: [("Content-Type", "application/openapi+json; charset=utf-8")], body: request.method.uppercased() == "HEAD" ? [] : body)
    }
}
