/// How the response body is built from the shaped rows, in Postgres, so values serialise exactly
/// as PostgREST's do.
enum BodyShape: Equatable {
    /// `[…]`, `[]` when empty.
    case array
    /// The first row's object (the response checks there is exactly one).
    case object
    /// A header line of column names, then one line per row.
    case csv
    /// `[v, …]` of a set-returning function's single column `pgrst_scalar`.
    case scalars
    /// The one value of a function's `pgrst_scalar` (`3`, `"text"`, `null`).
    case scalar
    /// No body (HEAD, `return=minimal`).
    case none

    /// The body an `Accept` format asks for.
    init(_ format: ResponseFormat) {
        switch format {
        case .jsonArray: self = .array
        case .singleObject: self = .object
        case .csv: self = .csv
        }
    }
}

/// The outer statement every plan shares: the shaped rows as the CTE `pgrst_rows`, then one row of
/// `page_total, total, body, location`.
enum ResultSQL {
    /// `WITH <ctes>, "pgrst_rows" AS (<rows>) SELECT count(*) AS page_total, … FROM "pgrst_rows"`.
    static func statement(ctes: [String] = [], rows: String, total: String, body: BodyShape, location: String? = nil) -> String {
        let with = (ctes + ["\"pgrst_rows\" AS (\(rows))"]).joined(separator: ", ")
        return "WITH \(with) SELECT count(*) AS page_total, \(total) AS total, \(bodySQL(body)) AS body, "
            + "\(location ?? "NULL::text") AS location FROM \"pgrst_rows\" AS \"pgrst_r\""
    }

    /// The `total` column: the count `Prefer: count=` asks for, from `countRows` (`SELECT 1 FROM …
    /// WHERE …`). Exact counts all; estimated counts stop past `maxRows` (the planner's estimate
    /// takes over); planned counts come from EXPLAIN alone.
    static func total(_ count: Preferences.Count?, countRows: String, maxRows: Int) -> String {
        switch count {
        case .exact: "(SELECT count(*) FROM (\(countRows)) AS \"pgrst_count\")"
        case .estimated: "(SELECT count(*) FROM (\(countRows) LIMIT \(maxRows + 1)) AS \"pgrst_count\")"
        case .planned, nil: "NULL::bigint"
        }
    }

    /// The `body` column's expression over `"pgrst_r"`, the shaped rows.
    private static func bodySQL(_ body: BodyShape) -> String {
        switch body {
        case .array:
            return "coalesce(json_agg(\"pgrst_r\".*), '[]')::text"
        case .object:
            return "(json_agg(\"pgrst_r\".*) -> 0)::text"
        case .scalars:
            return "coalesce(json_agg(\"pgrst_r\".\"pgrst_scalar\"), '[]')::text"
        case .scalar:
            return "(json_agg(\"pgrst_r\".\"pgrst_scalar\") -> 0)::text"
        case .csv:
            // As PostgREST: the first row's keys, then each row's record text without its parentheses
            // (record output quotes values the way CSV does).
            let header = "(SELECT coalesce(string_agg(\"pgrst_k\", ','), '') FROM (SELECT json_object_keys(row_to_json(\"pgrst_h\".*)) AS \"pgrst_k\" "
                + "FROM (SELECT * FROM \"pgrst_rows\" LIMIT 1) AS \"pgrst_h\") AS \"pgrst_keys\")"
            let line = "substring(ROW(\"pgrst_r\".*)::text, 2, length(ROW(\"pgrst_r\".*)::text) - 2)"
            return "\(header) || chr(10) || coalesce(string_agg(\(line), chr(10)), '')"
        case .none:
            return "NULL::text"
        }
    }
}

/// The page a read returns: `limit`/`offset` and the `Range` header intersected, as PostgREST
/// does, then capped at the maximum rows.
struct PageRange: Equatable {
    var offset: Int
    var limit: Int?

    init(offset: Int, limit: Int?) {
        self.offset = offset
        self.limit = limit
    }

    /// The page of `limit`/`offset` (query) within `header` (the `Range` header), at most `maxRows` rows.
    /// Offsets and limits up to Int.max come from the client: past it, the arithmetic saturates.
    init(limit: Int?, offset: Int?, header: RowRange?, maxRows: Int?) {
        let queryLower = offset ?? 0
        let queryUpper = limit.map { Self.lastRow(from: queryLower, count: $0) }
        let headerLower = header?.offset ?? 0
        let headerUpper = header?.limit.map { Self.lastRow(from: headerLower, count: $0) }
        let lower = max(queryLower, headerLower)
        let upper = [queryUpper, headerUpper].compactMap { $0 }.min()
        var count = upper.map { $0 < lower ? 0 : min($0 - lower, .max - 1) + 1 }
        if let maxRows { count = min(count ?? maxRows, maxRows) }
        self.init(offset: lower, limit: count)
    }

    /// The index of the last of `count` rows from `lower` (non-negative both), Int.max when it is further.
    private static func lastRow(from lower: Int, count: Int) -> Int {
        let (last, overflow) = lower.addingReportingOverflow(count - 1)
        return overflow ? .max : last
    }
}
