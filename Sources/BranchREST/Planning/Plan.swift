/// The data API's settings for one project.
package struct RESTSettings: Sendable {
    /// The schemas `Accept-Profile`/`Content-Profile` may choose; the first is the default.
    package var exposedSchemas: [String]
    /// The most rows a read returns (Supabase's `max_rows`), unless the request asks for fewer.
    package var maxRows: Int
    /// How the schema version is read before each request: `SchemaLoader.versionQuery` works on
    /// any database; `SchemaLoader.counterQuery` is one row read, for databases with the bootstrap.
    package var versionQuery: String

    package init(exposedSchemas: [String] = ["public"], maxRows: Int = 1000, versionQuery: String = SchemaLoader.versionQuery) {
        self.exposedSchemas = exposedSchemas
        self.maxRows = maxRows
        self.versionQuery = versionQuery
    }
}

/// A statement and its `$n` parameters, in order (text values, NULL as nil).
package struct PlannedStatement: Sendable, Equatable {
    package var sql: String
    package var parameters: [String?]

    package init(sql: String, parameters: [String?]) {
        self.sql = sql
        self.parameters = parameters
    }
}

/// What a request plans to: the schema document, or a statement to run in one transaction.
package enum PlannedRequest: Sendable {
    /// `GET /` : PostgREST's Swagger document of `schema`.
    case schemaDocument(schema: String)
    case statement(Plan)
}

/// Everything needed to run one request and answer it, decided before touching the database.
///
/// The statement returns one row: `page_total` (rows in the page, or rows written), `total` (the
/// count asked for with `Prefer: count=…`, else NULL), `body` (the response text, built in
/// Postgres) and `location` (the `Location` query of a `return=headers-only` insert).
package struct Plan: Sendable {
    /// The schema the request chose (first of `search_path`).
    package var schema: String
    /// `BEGIN READ ONLY` (reads, and functions that are not VOLATILE or called with GET).
    package var readOnly: Bool
    /// Nil when there is nothing to run (an empty bulk insert or an empty PATCH body).
    package var statement: PlannedStatement?
    /// `EXPLAIN (FORMAT JSON)` of the rows a planned (or large estimated) count counts.
    package var estimate: PlannedStatement?
    package var response: ResponsePlan
}

/// How the statement's result becomes the HTTP response.
package struct ResponsePlan: Sendable, Equatable {
    /// Which of PostgREST's response rules applies.
    package enum Action: Sendable, Equatable {
        /// GET/HEAD on a relation, or a function returning rows: 200, 206 or 416.
        case read
        /// POST: 201.
        case create
        /// PATCH, DELETE, PUT: 200 with a body, else 204.
        case modify
        /// PUT: as `modify`, and 400 `PGRST115` when the payload's key differs from the URL's.
        case put
        /// A function returning a single value or row: 200.
        case callSingle
        /// A function returning void: 204.
        case callVoid
    }

    package var action: Action
    package var format: ResponseFormat
    /// Whether the body goes out (false for HEAD, `return=minimal`, `return=headers-only`).
    package var returnsBody: Bool
    /// `Prefer: count=…`.
    package var count: Preferences.Count?
    /// The page's first row, for `Content-Range`.
    package var offset: Int = 0
    /// Estimated counts above it are taken from the planner.
    package var maxRows: Int = 1000
    /// `/todos`: the path a `return=headers-only` insert's `Location` starts with.
    package var locationPath: String?
    /// `Preference-Applied` values.
    package var appliedPreferences: [String] = []
    /// `Prefer: handling=strict, max-affected=N` on PATCH/DELETE: more rows written is 400 `PGRST124`
    /// (and rolled back).
    package var maxAffected: Int?
}
