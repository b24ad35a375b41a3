import BranchPostgres

/// The one row a plan's statement returns.
struct StatementResult: Equatable {
    /// Rows in the page (reads) or rows written.
    var pageTotal: Int
    /// The count `Prefer: count=` asked for.
    var total: Int?
    /// The response body, built in Postgres.
    var body: String?
    /// `id=eq.1` of an inserted row, for `Location`.
    var location: String?

    /// The result of a plan that had nothing to run: no rows.
    static func empty(for response: ResponsePlan) -> StatementResult {
        let body: String? = switch response.format {
        case .jsonArray: "[]"
        case .csv: "\n"
        case .singleObject: nil
        }
        return StatementResult(pageTotal: 0, total: response.count == nil ? nil : 0, body: body, location: nil)
    }

    /// The statement's row (`page_total, total, body, location`).
    init(_ rows: PGRows) {
        let hasRow = rows.count > 0
        pageTotal = hasRow ? rows.value(0, "page_total").flatMap { Int($0) } ?? 0 : 0
        total = hasRow ? rows.value(0, "total").flatMap { Int($0) } : nil
        body = hasRow ? rows.value(0, "body") : nil
        location = hasRow ? rows.value(0, "location") : nil
    }

    init(pageTotal: Int, total: Int?, body: String?, location: String?) {
        self.pageTotal = pageTotal
        self.total = total
        self.body = body
        self.location = location
    }
}

/// A statement's result as PostgREST's response: status, `Content-Range`, `Content-Type`, body.
enum ResponseBuilder {
    /// The response for `result`, or the error it turns into (406 `PGRST116` for a single object
    /// that is not one row, 416 `PGRST103` past the end, 400 `PGRST115`/`PGRST124` for writes), which
    /// the caller answers after rolling back.
    static func response(_ plan: ResponsePlan, result: StatementResult) throws(RESTError) -> DataResponse {
        if plan.format == .singleObject, plan.action != .callVoid, result.pageTotal != 1 {
            throw RESTError(
                status: 406, code: "PGRST116", message: "Cannot coerce the result to a single JSON object",
                details: "The result contains \(result.pageTotal) rows")
        }
        if let limit = plan.maxAffected, result.pageTotal > limit {
            throw RESTError(
                status: 400, code: "PGRST124", message: "Query result exceeds max-affected preference constraint",
                details: "The query affects \(result.pageTotal) rows")
        }
        var headers: [(name: String, value: String)] = []
        let status: Int
        switch plan.action {
        case .read, .callSingle:
            let lower = plan.offset
            let upper = lower + result.pageTotal - 1
            let total = plan.count == nil ? nil : result.total
            if let total, lower > total {
                var error = RESTError(
                    status: 416, code: "PGRST103", message: "Requested range not satisfiable",
                    details: "An offset of \(lower) was requested, but there are only \(total) rows.")
                error.headers = [("Content-Range", "*/\(total)")]
                throw error
            }
            if let total, result.pageTotal < total { status = 206 } else { status = 200 }
            let range = total != 0 && lower <= upper ? "\(lower)-\(upper)" : "*"
            headers.append(("Content-Range", "\(range)/\(total.map(String.init) ?? "*")"))
            headers.append(("Range-Unit", "items"))
        case .create:
            status = 201
            headers.append(("Content-Range", "*/\(plan.count == nil ? "*" : String(result.total ?? result.pageTotal))"))
            if let path = plan.locationPath, let query = result.location {
                headers.append(("Location", "\(path)?\(query)"))
            }
        case .modify, .put:
            if plan.action == .put, result.pageTotal == 0 {
                throw RESTError(status: 400, code: "PGRST115", message: "Payload values do not match URL in primary key column(s)")
            }
            status = plan.returnsBody ? 200 : 204
            headers.append(("Content-Range", "*/\(plan.count == nil ? "*" : String(result.total ?? result.pageTotal))"))
        case .callVoid:
            status = 204
        }
        if !plan.appliedPreferences.isEmpty {
            headers.append(("Preference-Applied", plan.appliedPreferences.joined(separator: ", ")))
        }
        guard status != 204, plan.returnsBody || plan.action == .read || plan.action == .callSingle else {
            return DataResponse(status: status, headers: headers)
        }
        headers.insert(("Content-Type", contentType(plan.format)), at: 0)
        let body = plan.returnsBody ? Array((result.body ?? "null").utf8) : []
        return DataResponse(status: status, headers: headers, body: body)
    }

    /// The `Content-Type` of a format, with its charset.
    static func contentType(_ format: ResponseFormat) -> String {
        switch format {
        case .jsonArray: "application/json; charset=utf-8"
        case .singleObject: "application/vnd.pgrst.object+json; charset=utf-8"
        case .csv: "text/csv; charset=utf-8"
        }
    }
}
