/// One endpoint of the management API. The server registers exactly these, and the OpenAPI
/// document is generated from them, so the two cannot drift apart.
public struct APIRoute: Sendable, Hashable {
    public enum Method: String, Sendable, CaseIterable { case get = "GET", post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE" }

    public let method: Method
    /// OpenAPI form, e.g. `/api/v1/projects/{project}`.
    public let path: String
    public let operationID: String
    public let summary: String
    public let requestSchema: String?
    /// Whether the body may be left out (every field then takes its default).
    public let requestOptional: Bool
    public let responseSchema: String
    public let successStatus: Int
    public let requiresAuth: Bool
    /// Query parameters: name and description.
    public let query: [QueryParameter]
    /// The response is a stream of `responseSchema` objects, one JSON document per line
    /// (`application/x-ndjson`).
    public let streamsLines: Bool

    public struct QueryParameter: Sendable, Hashable {
        public let name: String
        public let type: String
        public let description: String
    }

    init(
        _ method: Method, _ path: String, _ operationID: String, _ summary: String, request: String? = nil,
        requestOptional: Bool = false, response: String, status: Int = 200, auth: Bool = true, query: [QueryParameter] = [],
        streamsLines: Bool = false
    ) {
        self.method = method
        self.path = path
        self.operationID = operationID
        self.summary = summary
        self.requestSchema = request
        self.requestOptional = requestOptional
        self.responseSchema = response
        self.successStatus = status
        self.requiresAuth = auth
        self.query = query
        self.streamsLines = streamsLines
    }

    /// Path parameters in order, e.g. `["project", "branch"]`.
    public var pathParameters: [String] {
        path.split(separator: "/").compactMap { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? String(part.dropFirst().dropLast()) : nil
        }
    }

    /// The path with `{name}` replaced by `:name`, as Hummingbird's router writes it.
    public var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? ":" + part.dropFirst().dropLast() : part
        }.joined(separator: "/")
    }
}

extension APIRoute {
    static let force = QueryParameter(name: "force", type: "boolean", description: "Also delete what depends on it (see the endpoint).")

    public static let health = APIRoute(.get, "/api/v1/health", "health", "Liveness check; the only endpoint without auth.", response: "HealthResponse", auth: false)
    public static let openAPI = APIRoute(.get, "/api/v1/openapi.json", "openapi", "This document.", response: "OpenAPIDocument")
    public static let status = APIRoute(.get, "/api/v1/status", "getStatus", "Service status: pool, Postgres, runtime, pooler.", response: "StatusResponse")
    public static let listOperations = APIRoute(
        .get, "/api/v1/operations", "listOperations", "The operations journal, newest first.", response: "OperationList",
        query: [
            QueryParameter(name: "project", type: "string", description: "Only this project's operations."),
            QueryParameter(name: "limit", type: "integer", description: "At most this many (default 50, at most 1000)."),
        ])

    public static let prometheus = APIRoute(
        .get, "/metrics", "prometheusMetrics", "Every branch's CPU, memory, IO, connections, sizes, state and restarts, in Prometheus text format.",
        response: "Text")
    public static let metrics = APIRoute(
        .get, "/api/v1/metrics", "getMetrics", "Samples of every branch server (5 s apart, the last hour), for charts and `branch top`.",
        response: "MetricsResponse",
        query: [
            QueryParameter(name: "project", type: "string", description: "Only this project's branches."),
            QueryParameter(name: "branch", type: "string", description: "Only this branch (with project)."),
            QueryParameter(name: "minutes", type: "integer", description: "How far back (default 60; 0: the latest sample only)."),
        ])
    public static let listEvents = APIRoute(
        .get, "/api/v1/events", "listEvents", "What happened to branch servers on their own (crashes, restarts, suspensions), newest first.",
        response: "EventList",
        query: [
            QueryParameter(name: "project", type: "string", description: "Only this project's events."),
            QueryParameter(name: "limit", type: "integer", description: "At most this many (default 100)."),
        ])

    public static let listBackups = APIRoute(
        .get, "/api/v1/backups", "listBackups", "Backups made by this pool, or (remote=true) every backup in the target, newest first.",
        response: "BackupList",
        query: [
            QueryParameter(name: "project", type: "string", description: "Only this project's backups."),
            QueryParameter(name: "remote", type: "boolean", description: "Read the target's manifests (what a fresh pool can restore)."),
        ])
    public static let getBackup = APIRoute(.get, "/api/v1/backups/{backup}", "getBackup", "One backup.", response: "BackupInfo")
    public static let deleteBackup = APIRoute(
        .delete, "/api/v1/backups/{backup}", "deleteBackup", "Delete a backup from the target; refused while a later backup builds on it.",
        response: "DeleteResult")
    public static let restoreBackup = APIRoute(
        .post, "/api/v1/backups/{backup}/restore", "restoreBackup",
        "Start restoring a backup chain as a new branch (a job: poll GET /api/v1/jobs/{job}).", request: "RestoreBackupRequest",
        response: "JobInfo", status: 202)
    public static let verifyBackup = APIRoute(
        .post, "/api/v1/backups/{backup}/verify", "verifyBackup",
        "Start verifying a backup: authenticate every chunk, restore it to a scratch copy, read every table (a job).", response: "JobInfo",
        status: 202)
    public static let getJob = APIRoute(.get, "/api/v1/jobs/{job}", "getJob", "A long operation's progress and result.", response: "JobInfo")

    public static let listProjects = APIRoute(.get, "/api/v1/projects", "listProjects", "All projects.", response: "ProjectList")
    public static let createProject = APIRoute(
        .post, "/api/v1/projects", "createProject", "Create a project from the warm template: its owner role, database and main branch.",
        request: "CreateProjectRequest", response: "ProjectCreated", status: 201)
    public static let getProject = APIRoute(.get, "/api/v1/projects/{project}", "getProject", "One project.", response: "ProjectInfo")
    public static let updateProject = APIRoute(
        .patch, "/api/v1/projects/{project}", "updateProject",
        "Change a project's limits and scale-to-zero settings; memory and CPU apply at once, max connections restarts its running branches.",
        request: "ProjectSettings", response: "ProjectUpdated")
    public static let deleteProject = APIRoute(
        .delete, "/api/v1/projects/{project}", "deleteProject",
        "Delete a project with all its data. Needs force=true when it has branches besides main.", response: "DeleteResult",
        query: [force])
    public static let projectConnection = APIRoute(
        .get, "/api/v1/projects/{project}/connection", "getProjectConnection",
        "The project's stable pooled endpoint (reaches the checked-out branch).", response: "ConnectionResponse")
    public static let checkout = APIRoute(
        .post, "/api/v1/projects/{project}/checkout", "checkout", "Point the project's pooled endpoint at another branch.",
        request: "CheckoutRequest", response: "CheckoutResult")

    public static let listBranches = APIRoute(.get, "/api/v1/projects/{project}/branches", "listBranches", "The project's branches.", response: "BranchList")
    public static let createBranch = APIRoute(
        .post, "/api/v1/projects/{project}/branches", "createBranch",
        "Create a copy-on-write branch of a branch (default main) or a snapshot, started and accepting connections.",
        request: "CreateBranchRequest", response: "BranchResult", status: 201)
    public static let getBranch = APIRoute(.get, "/api/v1/projects/{project}/branches/{branch}", "getBranch", "One branch.", response: "BranchInfo")
    public static let deleteBranch = APIRoute(
        .delete, "/api/v1/projects/{project}/branches/{branch}", "deleteBranch",
        "Delete a branch. Needs force=true for main or a branch with children (children are re-parented).",
        response: "DeleteResult", query: [force])
    public static let resetBranch = APIRoute(
        .post, "/api/v1/projects/{project}/branches/{branch}/reset", "resetBranch",
        "Re-create the branch from its parent's current state (the old state is snapshotted first).", response: "BranchResult")
    public static let startBranch = APIRoute(.post, "/api/v1/projects/{project}/branches/{branch}/start", "startBranch", "Start the branch's server.", response: "BranchResult")
    public static let stopBranch = APIRoute(.post, "/api/v1/projects/{project}/branches/{branch}/stop", "stopBranch", "Stop the branch's server.", response: "BranchResult")
    public static let branchConnection = APIRoute(
        .get, "/api/v1/projects/{project}/branches/{branch}/connection", "getBranchConnection",
        "A connection to one branch: direct, or through the pooler with pooled=true. Resumes a suspended branch.",
        response: "ConnectionResponse",
        query: [QueryParameter(name: "pooled", type: "boolean", description: "The branch's pooled entry (`project__branch`) instead of its own port.")])
    public static let exportBranch = APIRoute(
        .get, "/api/v1/projects/{project}/branches/{branch}/export", "exportBranch",
        "A logical export, streamed: pg_dump SQL, or JSON Lines of {table, row}.", response: "Text",
        query: [
            QueryParameter(name: "format", type: "string", description: "sql (default) or json."),
            QueryParameter(name: "table", type: "string", description: "Only this table (schema.table)."),
        ])
    public static let branchLogs = APIRoute(
        .get, "/api/v1/projects/{project}/branches/{branch}/logs", "getBranchLogs",
        "The branch server's log, newest lines last; with follow=true the response streams new lines as they are written.",
        response: "Text",
        query: [
            QueryParameter(name: "lines", type: "integer", description: "How many of the last lines (default 100)."),
            QueryParameter(name: "follow", type: "boolean", description: "Keep the response open and stream new lines."),
        ])

    public static let createBackup = APIRoute(
        .post, "/api/v1/projects/{project}/backups", "createBackup",
        "Start a backup of a branch: full, or incremental to its previous backup (a job: poll GET /api/v1/jobs/{job}).",
        request: "CreateBackupRequest", requestOptional: true, response: "JobInfo", status: 202)

    public static let listSchedules = APIRoute(
        .get, "/api/v1/projects/{project}/schedules", "listSchedules", "The project's snapshot and backup schedules.", response: "ScheduleList")
    public static let setSchedule = APIRoute(
        .put, "/api/v1/projects/{project}/schedules/{kind}", "setSchedule",
        "Set the project's `snapshot` or `backup` schedule and its retention rules.", request: "ScheduleRequest", response: "ScheduleInfo")
    public static let deleteSchedule = APIRoute(
        .delete, "/api/v1/projects/{project}/schedules/{kind}", "deleteSchedule", "Remove a schedule.", response: "ScheduleList")

    public static let diff = APIRoute(
        .post, "/api/v1/projects/{project}/diff", "diff",
        "Schema and row differences between two branches, snapshots, instants (`main@2026-11-21T10:00:00Z`) or backups (`backup:ID`), streamed as JSON Lines: schema changes, then per table its rows and a summary, then an `end` line (with `nextCursor` when `limit` cut it short). A failure after the stream started is an `error` line.",
        request: "DiffRequest", response: "DiffLine", streamsLines: true)
    public static let merge = APIRoute(
        .post, "/api/v1/projects/{project}/merge", "merge",
        "Three-way merge of a branch into another (default: its parent) since the source's base snapshot, in one transaction, after snapshotting the target. With unresolved conflicts nothing is applied and `applied` is false.",
        request: "MergeRequest", response: "MergeResult")

    public static let listSnapshots = APIRoute(.get, "/api/v1/projects/{project}/snapshots", "listSnapshots", "The project's snapshots.", response: "SnapshotList")
    public static let createSnapshot = APIRoute(
        .post, "/api/v1/projects/{project}/snapshots", "createSnapshot", "Take a read-only snapshot of a branch (default: the checked-out one).",
        request: "CreateSnapshotRequest", requestOptional: true, response: "SnapshotResult", status: 201)
    public static let getSnapshot = APIRoute(.get, "/api/v1/projects/{project}/snapshots/{snapshot}", "getSnapshot", "One snapshot, by id or name.", response: "SnapshotInfo")
    public static let deleteSnapshot = APIRoute(
        .delete, "/api/v1/projects/{project}/snapshots/{snapshot}", "deleteSnapshot",
        "Delete a snapshot. Refused while it is a branch's base.", response: "DeleteResult")
    public static let restoreSnapshot = APIRoute(
        .post, "/api/v1/projects/{project}/snapshots/{snapshot}/restore", "restoreSnapshot",
        "Restore a snapshot as a new branch (`as`), or into a branch in place (`inPlace`, the replaced state is snapshotted first).",
        request: "RestoreRequest", response: "BranchResult")

    /// Every route, in the order the document lists them.
    public static let all: [APIRoute] = [
        health, openAPI, status, listOperations, listEvents, metrics, prometheus,
        listBackups, getBackup, deleteBackup, restoreBackup, verifyBackup, getJob,
        listProjects, createProject, getProject, updateProject, deleteProject, projectConnection, checkout,
        listBranches, createBranch, getBranch, deleteBranch, resetBranch, startBranch, stopBranch, branchConnection, branchLogs,
        exportBranch,
        listSnapshots, createSnapshot, getSnapshot, deleteSnapshot, restoreSnapshot,
        listSchedules, setSchedule, deleteSchedule, createBackup,
        diff, merge,
    ]
}
