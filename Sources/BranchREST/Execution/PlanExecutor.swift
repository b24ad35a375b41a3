import BranchCore
import BranchPostgres

/// Runs a plan as PostgREST does: one transaction (`BEGIN [READ ONLY]`, the request settings, the
/// statement, `COMMIT`), rolled back on any failure, so the connection is idle again whatever
/// happens. The statements go in one pipeline: a read is one round trip, its COMMIT included; a
/// write waits for its result before it commits (a failed response check rolls it back). The
/// pipeline starts with the schema version when the caller's cache may be stale.
enum PlanExecutor {
    enum Execution {
        case done(DataResponse)
        /// The database's schema version is not the one the plan was made with: nothing was
        /// written; reload the cache, plan again and run again.
        case schemaChanged
    }

    /// The response to `request` planned as `plan`, run as `identity` on `connection`.
    /// `expectedVersion`, when given, is the schema version the plan was made with.
    static func run(
        _ plan: Plan, request: DataRequest, identity: RequestIdentity, connection: PGConnection, expectedVersion: String?,
        versionQuery: String
    ) async -> Execution {
        guard let statement = plan.statement else {
            do throws(RESTError) {
                return .done(try ResponseBuilder.response(plan.response, result: .empty(for: plan.response)))
            } catch {
                return .done(error.response)
            }
        }
        // libpq passes parameters as C strings: a NUL would cut a value short, so refuse it as
        // Postgres refuses NUL in text.
        if statement.parameters.contains(where: { $0?.utf8.contains(0) ?? false }) {
            return .done(RESTError(status: 400, code: "22021", message: "invalid byte sequence for encoding \"UTF8\": 0x00").response)
        }

        var steps: [(sql: String, parameters: [String?])] = []
        if expectedVersion != nil { steps.append((versionQuery, [])) }
        let first = steps.count
        steps.append((plan.readOnly ? "BEGIN READ ONLY" : "BEGIN", []))
        steps.append((RequestSettings.sql, RequestSettings.parameters(request, identity: identity, schema: plan.schema)))
        steps.append((statement.sql, statement.parameters))
        // COMMIT goes with the statement when nothing after it can call for a rollback: a read, or a
        // write whose response cannot be refused once the statement worked (no single object, no
        // max-affected, no PUT key check); a count estimate still has to run inside the transaction.
        let commitsInPipeline = plan.estimate == nil && (plan.readOnly || Self.cannotBeRefused(plan.response))
        if commitsInPipeline { steps.append(("COMMIT", [])) }

        let results: [Result<PGRows, PostgresError>?]
        do {
            results = try await connection.pipeline(steps, preparing: true)
        } catch {
            await rollback(connection)
            return .done(RESTError(error, identity: identity).response)
        }
        if let expectedVersion, (try? results[0]?.get())?.scalar != expectedVersion {
            if !committed(results, commitsInPipeline) { await rollback(connection) }
            return .schemaChanged
        }
        do {
            _ = try outcome(results[first])
            _ = try outcome(results[first + 1])
            let rows = try outcome(results[first + 2])
            var result = StatementResult(rows)
            if let estimate = plan.estimate, needsEstimate(plan.response, result: result) {
                let planned = try await connection.query(estimate.sql, estimate.parameters)
                let rows = planned.scalar.flatMap(planRows) ?? 0
                result.total = plan.response.count == .estimated ? max(rows, plan.response.maxRows + 1) : rows
            }
            if commitsInPipeline { _ = try outcome(results[first + 3]) }
            let response = try ResponseBuilder.response(plan.response, result: result)
            if !commitsInPipeline { try await connection.execute("COMMIT") }
            return .done(response)
        } catch let error as RESTError {
            if !committed(results, commitsInPipeline) { await rollback(connection) }
            return .done(error.response)
        } catch let error as PostgresError {
            if !committed(results, commitsInPipeline) { await rollback(connection) }
            return .done(RESTError(error, identity: identity).response)
        } catch {
            await rollback(connection)
            return .done(RESTError(status: 500, code: "PGRSTX00", message: "\(error)").response)
        }
    }

    /// Whether `ResponseBuilder` accepts any result of a statement that ran (see its refusals).
    private static func cannotBeRefused(_ response: ResponsePlan) -> Bool {
        guard response.maxAffected == nil, response.format != .singleObject || response.action == .callVoid else { return false }
        switch response.action {
        case .create, .modify, .callVoid: return true
        case .put: return false
        // 416 needs a count.
        case .read, .callSingle: return response.count == nil
        }
    }

    /// A pipeline step's rows, or its error; a step the server skipped after an earlier failure
    /// cannot be the first failure, so it is reported as an internal error.
    private static func outcome(_ step: Result<PGRows, PostgresError>?) throws(PostgresError) -> PGRows {
        guard let step else { throw PostgresError(.postgresQueryFailed, "The statement did not run.", sqlState: "XX000") }
        return try step.get()
    }

    /// Whether the pipeline's own COMMIT ran and succeeded (then there is nothing to roll back).
    private static func committed(_ results: [Result<PGRows, PostgresError>?], _ commitsInPipeline: Bool) -> Bool {
        guard commitsInPipeline, case .success? = results.last else { return false }
        return true
    }

    /// Planned counts always come from EXPLAIN; estimated ones only past the maximum rows.
    private static func needsEstimate(_ response: ResponsePlan, result: StatementResult) -> Bool {
        switch response.count {
        case .planned: true
        case .estimated: (result.total ?? 0) > response.maxRows
        case .exact, nil: false
        }
    }

    /// The top plan node's `"Plan Rows"` in `EXPLAIN (FORMAT JSON)` output.
    static func planRows(_ explain: String) -> Int? {
        guard let key = explain.firstRange(of: "\"Plan Rows\":") else { return nil }
        let digits = explain[key.upperBound...].drop { $0 == " " }.prefix { $0.isNumber || $0 == "." }
        return Double(digits).map { Int($0.rounded()) }
    }

    /// ROLLBACK even when the waiting task was cancelled (a cancelled task's calls do not run),
    /// so the connection goes back idle. Outside a transaction it is a harmless warning.
    private static func rollback(_ connection: PGConnection) async {
        await Task { _ = try? await connection.execute("ROLLBACK") }.value
    }
}
