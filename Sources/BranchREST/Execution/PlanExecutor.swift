import BranchPostgres

/// Runs a plan as PostgREST does: one transaction (`BEGIN [READ ONLY]`, the request settings, the
/// statement, `COMMIT`), rolled back on any failure, so the connection is idle again whatever
/// happens. Four round trips for a read.
enum PlanExecutor {
    /// The response to `request` planned as `plan`, run as `identity` on `connection`.
    static func run(_ plan: Plan, request: DataRequest, identity: RequestIdentity, connection: PGConnection) async -> DataResponse {
        guard let statement = plan.statement else {
            do throws(RESTError) {
                return try ResponseBuilder.response(plan.response, result: .empty(for: plan.response))
            } catch {
                return error.response
            }
        }
        // libpq passes parameters as C strings: a NUL would cut a value short, so refuse it as
        // Postgres refuses NUL in text.
        if statement.parameters.contains(where: { $0?.utf8.contains(0) ?? false }) {
            return RESTError(status: 400, code: "22021", message: "invalid byte sequence for encoding \"UTF8\": 0x00").response
        }
        do {
            try await connection.execute(plan.readOnly ? "BEGIN READ ONLY" : "BEGIN")
        } catch {
            return RESTError(error, identity: identity).response
        }
        do {
            try await connection.query(RequestSettings.sql, RequestSettings.parameters(request, identity: identity, schema: plan.schema))
            var result = StatementResult(try await connection.query(statement.sql, statement.parameters))
            if let estimate = plan.estimate, needsEstimate(plan.response, result: result) {
                let planned = try await connection.query(estimate.sql, estimate.parameters)
                let rows = planned.scalar.flatMap(planRows) ?? 0
                result.total = plan.response.count == .estimated ? max(rows, plan.response.maxRows + 1) : rows
            }
            let response = try ResponseBuilder.response(plan.response, result: result)
            try await connection.execute("COMMIT")
            return response
        } catch let error as RESTError {
            await rollback(connection)
            return error.response
        } catch let error as PostgresError {
            await rollback(connection)
            return RESTError(error, identity: identity).response
        } catch {
            await rollback(connection)
            return RESTError(status: 500, code: "PGRSTX00", message: "\(error)").response
        }
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
    /// so the connection goes back idle.
    private static func rollback(_ connection: PGConnection) async {
        await Task { _ = try? await connection.execute("ROLLBACK") }.value
    }
}
