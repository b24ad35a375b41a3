package import BranchPostgres

/// The data API's `/rest/v1`: PostgREST's semantics over one dedicated connection.
package enum RESTHandler {
    /// A response, and the schema cache it was planned with (reloaded when the database's schema
    /// version had moved: the caller keeps it for the next request).
    package struct Outcome: Sendable {
        package var response: DataResponse
        package var schema: SchemaCache
    }

    /// One /rest/v1 request. `connection` is a dedicated connection (logged in as `authenticator`,
    /// idle, not in a transaction); everything runs in ONE transaction on it, which ends (COMMIT or
    /// ROLLBACK) whatever happens. `schema` is the cache from an earlier request, or nil: the
    /// version is checked in the request's own round trip, and on a change (or a name the cache
    /// does not know) the cache is reloaded and the request planned again. Never throws: every
    /// failure is a PostgREST error response.
    package static func handle(
        _ request: DataRequest, identity: RequestIdentity, schema cached: SchemaCache?, settings: RESTSettings, connection: PGConnection
    ) async -> Outcome {
        var schema: SchemaCache
        var fresh = cached == nil
        if let cached {
            schema = cached
        } else {
            do {
                schema = try await SchemaLoader.load(connection: connection, schemas: settings.exposedSchemas)
            } catch {
                return Outcome(response: RESTError(error, identity: identity).response, schema: SchemaCache.empty)
            }
        }
        while true {
            let planned: PlannedRequest
            do throws(RESTError) {
                planned = try RequestPlanner.plan(request, schema: schema, settings: settings)
            } catch {
                // An unknown name may be one made since the cache was read.
                if !fresh, let reloaded = await reloadIfChanged(schema, settings: settings, connection: connection) {
                    (schema, fresh) = (reloaded, true)
                    continue
                }
                return Outcome(response: error.response, schema: schema)
            }
            switch planned {
            case .schemaDocument(let exposed):
                if !fresh, let reloaded = await reloadIfChanged(schema, settings: settings, connection: connection) {
                    (schema, fresh) = (reloaded, true)
                    continue
                }
                return Outcome(response: schemaDocument(request, identity: identity, schema: schema, exposed: exposed), schema: schema)
            case .statement(let plan):
                switch await PlanExecutor.run(plan, request: request, identity: identity, connection: connection, expectedVersion: fresh ? nil : schema.version,
                    versionQuery: settings.versionQuery) {
                case .done(let response):
                    return Outcome(response: response, schema: schema)
                case .schemaChanged:
                    do {
                        (schema, fresh) = (try await SchemaLoader.load(connection: connection, schemas: settings.exposedSchemas), true)
                    } catch {
                        return Outcome(response: RESTError(error, identity: identity).response, schema: schema)
                    }
                }
            }
        }
    }

    /// A new cache when the database's schema version is not `schema`'s, else nil.
    private static func reloadIfChanged(_ schema: SchemaCache, settings: RESTSettings, connection: PGConnection) async -> SchemaCache? {
        guard let version = try? await connection.query(settings.versionQuery).scalar, version != schema.version else { return nil }
        return try? await SchemaLoader.load(connection: connection, schemas: settings.exposedSchemas)
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
