public import BranchCore
/// JSON Schemas of the API's bodies, for the OpenAPI document. A unit test encodes a sample of
/// every model and checks it against these, so a field added to a model without its schema fails.
public enum APISchemas {
    public indirect enum Property: Sendable {
        case string, dateTime, integer, number, boolean, object
        case array(Property)
        case ref(String)
        /// May be absent or null.
        case optional(Property)

        var isOptional: Bool { if case .optional = self { true } else { false } }

        var json: JSONValue {
            switch self {
            case .string: ["type": "string"]
            case .dateTime: ["type": "string", "format": "date-time"]
            case .integer: ["type": "integer"]
            case .number: ["type": "number"]
            case .boolean: ["type": "boolean"]
            case .object: ["type": "object"]
            case .array(let items): ["type": "array", "items": items.json]
            case .ref(let name): ["$ref": .string("#/components/schemas/\(name)")]
            case .optional(let wrapped):
                if case .ref = wrapped { ["oneOf": [wrapped.json, ["type": "null"]]] } else { nullable(wrapped.json) }
            }
        }

        private func nullable(_ schema: JSONValue) -> JSONValue {
            guard var object = schema.objectValue, let type = object["type"] else { return schema }
            object["type"] = [type, "null"]
            return .object(object)
        }
    }

    public struct Object: Sendable {
        public let description: String
        public let properties: [(String, Property)]

        init(_ description: String, _ properties: [(String, Property)]) {
            self.description = description
            self.properties = properties
        }

        public var propertyNames: Set<String> { Set(properties.map(\.0)) }
        public var requiredNames: Set<String> { Set(properties.filter { !$0.1.isOptional }.map(\.0)) }

        var json: JSONValue {
            var props: [String: JSONValue] = [:]
            for (name, property) in properties { props[name] = property.json }
            let required = properties.filter { !$0.1.isOptional }.map { JSONValue.string($0.0) }
            return ["type": "object", "description": .string(description), "properties": .object(props), "required": .array(required)]
        }
    }

    public static let objects: [String: Object] = [
        "ErrorBody": Object("Every error response.", [("error", .ref("ErrorDetail"))]),
        "ErrorDetail": Object(
            "What went wrong: a stable code, a message and what to do next.",
            [("code", .string), ("message", .string), ("hint", .optional(.string)), ("requestId", .optional(.string))]),
        "HealthResponse": Object("Liveness.", [("status", .string), ("version", .string)]),
        "OpenAPIDocument": Object("An OpenAPI 3.1 document.", [("openapi", .string), ("info", .object), ("paths", .object)]),
        "StatusResponse": Object(
            "The service at a glance.",
            [
                ("version", .string), ("startedAt", .dateTime), ("pool", .ref("PoolStatus")), ("postgres", .ref("PostgresStatus")),
                ("runtime", .string), ("runtimeDetails", .ref("RuntimeStatus")), ("pooler", .ref("PoolerStatus")), ("projects", .integer), ("branches", .integer),
                ("branchesRunning", .integer),
            ]),
        "PoolStatus": Object(
            "The Btrfs pool.",
            [("path", .string), ("mount", .string), ("freeBytes", .integer), ("totalBytes", .integer), ("quotas", .boolean)]),
        "PostgresStatus": Object("The Postgres server binaries in use.", [("version", .string), ("major", .integer), ("binDirectory", .string)]),
        "RuntimeStatus": Object(
            "How branch servers run (podman, docker or process) and what start-up found out about the host.",
            [("name", .string), ("cgroups", .string), ("limitsEnforced", .boolean), ("notes", .array(.string))]),
        "PoolerStatus": Object("The PgBouncer front door.", [("port", .integer), ("running", .boolean)]),
        "OperationTiming": Object(
            "How long an operation took, step by step.", [("id", .string), ("durationMs", .number), ("steps", .array(.ref("OperationStep")))]),
        "OperationStep": Object("One step of an operation.", [("name", .string), ("ms", .number)]),
        "ProjectInfo": Object(
            "A project: one Postgres lineage with its owner role, database and branches.",
            [
                ("name", .string), ("createdAt", .dateTime), ("postgresMajor", .integer), ("role", .string), ("database", .string),
                ("checkedOut", .string), ("branches", .integer), ("snapshots", .integer), ("exclusiveBytes", .optional(.integer)),
                ("poolerHost", .string), ("poolerPort", .integer), ("memoryBytes", .optional(.integer)), ("cpus", .optional(.number)),
                ("maxConnections", .optional(.integer)), ("suspendAfterSeconds", .integer), ("suspendMainAfterSeconds", .integer),
                ("retentionDays", .integer), ("earliestRestorableAt", .optional(.dateTime)),
            ]),
        "ProjectList": Object("Projects.", [("projects", .array(.ref("ProjectInfo")))]),
        "CreateProjectRequest": Object("A new project.", [("name", .string), ("settings", .optional(.ref("ProjectSettings")))]),
        "ProjectSettings": Object(
            "Limits and scale-to-zero settings. In an update, an absent field is unchanged, 0 removes a limit or turns suspension off, and -1 returns a suspension delay to the service default.",
            [
                ("memoryBytes", .optional(.integer)), ("cpus", .optional(.number)), ("maxConnections", .optional(.integer)),
                ("suspendAfterSeconds", .optional(.integer)), ("suspendMainAfterSeconds", .optional(.integer)),
                ("retentionDays", .optional(.integer)),
            ]),
        "ProjectUpdated": Object(
            "A project after a settings change.",
            [("project", .ref("ProjectInfo")), ("restarted", .array(.string)), ("operation", .ref("OperationTiming"))]),
        "ScheduleInfo": Object(
            "A schedule of automatic snapshots or backups and its retention rules.",
            [
                ("kind", .string), ("expression", .string), ("enabled", .boolean), ("keepLast", .integer), ("hourly", .integer),
                ("daily", .integer), ("weekly", .integer), ("monthly", .integer), ("lastRunAt", .optional(.dateTime)),
                ("nextRunAt", .optional(.dateTime)), ("webhookURL", .optional(.string)), ("webhookSlack", .boolean),
            ]),
        "ScheduleList": Object("Schedules.", [("schedules", .array(.ref("ScheduleInfo")))]),
        "ScheduleRequest": Object(
            "A schedule to set; absent retention fields keep their values.",
            [
                ("expression", .string), ("enabled", .optional(.boolean)), ("keepLast", .optional(.integer)), ("hourly", .optional(.integer)),
                ("daily", .optional(.integer)), ("weekly", .optional(.integer)), ("monthly", .optional(.integer)),
                ("webhookURL", .optional(.string)), ("webhookSlack", .optional(.boolean)),
            ]),
        "BackupInfo": Object(
            "A backup: one snapshot's send stream, compressed and encrypted in the target.",
            [
                ("id", .string), ("project", .string), ("branch", .string), ("snapshotID", .string), ("parentID", .optional(.string)),
                ("kind", .string), ("target", .string), ("status", .string), ("startedAt", .dateTime), ("finishedAt", .optional(.dateTime)),
                ("rawBytes", .integer), ("storedBytes", .integer), ("postgresVersion", .optional(.string)), ("error", .optional(.string)),
            ]),
        "BackupList": Object("Backups.", [("backups", .array(.ref("BackupInfo")))]),
        "CreateBackupRequest": Object("A backup of a branch (default: the checked-out one).", [("branch", .optional(.string))]),
        "RestoreBackupRequest": Object(
            "Restore a backup (with its chain) as a new branch, in its project or another; a missing project is created.",
            [("as", .string), ("project", .optional(.string))]),
        "VerifyReport": Object(
            "What verifying a backup found.",
            [
                ("backup", .string), ("chain", .array(.string)), ("chunksVerified", .integer), ("bytesVerified", .integer),
                ("tables", .integer), ("rows", .integer), ("indexesChecked", .optional(.integer)), ("ok", .boolean), ("durationMs", .number),
            ]),
        "JobInfo": Object(
            "A long operation (backup, restore, verify) and its progress.",
            [
                ("id", .string), ("kind", .string), ("project", .optional(.string)), ("status", .string), ("startedAt", .dateTime),
                ("finishedAt", .optional(.dateTime)), ("durationMs", .optional(.number)), ("bytesDone", .integer),
                ("bytesPerSecond", .number), ("step", .optional(.string)),
                ("errorCode", .optional(.string)), ("errorMessage", .optional(.string)), ("errorHint", .optional(.string)),
                ("backup", .optional(.ref("BackupInfo"))), ("branch", .optional(.ref("BranchInfo"))), ("verify", .optional(.ref("VerifyReport"))),
            ]),
        "DiffRequest": Object(
            "Two sides to compare, each a branch, a snapshot (id or name), BRANCH@INSTANT or backup:ID, and what to include.",
            [
                ("from", .string), ("to", .string), ("tables", .optional(.array(.string))), ("schemas", .optional(.array(.string))),
                ("schemaOnly", .optional(.boolean)), ("summary", .optional(.boolean)), ("limit", .optional(.integer)), ("cursor", .optional(.string)),
            ]),
        "DiffLine": Object(
            "One line of a diff stream; `type` says which field is set: schema, row, table, end or error.",
            [
                ("type", .string), ("schema", .optional(.ref("DiffSchemaChange"))), ("row", .optional(.ref("DiffRowChange"))),
                ("table", .optional(.ref("DiffTableSummary"))), ("end", .optional(.ref("DiffEnd"))), ("error", .optional(.ref("ErrorDetail"))),
            ]),
        "DiffSchemaChange": Object(
            "A schema object added, removed or changed from the first side to the second, classified additive or breaking.",
            [
                ("objectType", .string), ("name", .string), ("change", .string), ("classification", .string), ("from", .optional(.string)),
                ("to", .optional(.string)), ("reason", .optional(.string)),
            ]),
        "DiffRowChange": Object(
            "A row added, removed or changed; values in Postgres text form, null for NULL. `key` maps primary-key columns to values.",
            [
                ("table", .string), ("change", .string), ("key", .object), ("row", .optional(.object)),
                ("columns", .optional(.array(.ref("DiffColumnChange")))), ("count", .optional(.integer)),
            ]),
        "DiffColumnChange": Object(
            "One changed column: old and new text values; for json and jsonb, also RFC 6902 operations.",
            [("column", .string), ("old", .optional(.string)), ("new", .optional(.string)), ("patch", .optional(.array(.object)))]),
        "DiffTableSummary": Object(
            "A table's counts; `method` is `primary key`, `primary key, changed pages` or `multiset`; `complete` is false when the limit stopped inside it; pages read and skipped, and tuples asked for by tuple id, when compared by heap pages.",
            [
                ("table", .string), ("added", .integer), ("removed", .integer), ("changed", .integer), ("method", .string), ("complete", .boolean),
                ("pagesRead", .optional(.integer)), ("pagesSkipped", .optional(.integer)), ("tuplesCompared", .optional(.integer)),
            ]),
        "DiffEnd": Object(
            "The last line of a diff: totals, the cursor to continue from, bytes read from each server, duration.",
            [
                ("from", .string), ("to", .string), ("schemaChanges", .integer), ("breakingChanges", .integer), ("rowsAdded", .integer),
                ("rowsRemoved", .integer), ("rowsChanged", .integer), ("nextCursor", .optional(.string)), ("bytesFromFirst", .integer),
                ("bytesFromSecond", .integer), ("durationMs", .number),
            ]),
        "MergeRequest": Object(
            "A merge of `source` into `into` (default: its parent). `prefer` (source or target) settles every conflict; `resolutions` settle single rows.",
            [
                ("source", .string), ("into", .optional(.string)), ("prefer", .optional(.string)),
                ("resolutions", .optional(.array(.ref("MergeResolution")))), ("allowDestructive", .optional(.boolean)), ("dryRun", .optional(.boolean)),
            ]),
        "MergeResolution": Object(
            "How to settle one conflicting row: `take` is source or target.", [("table", .string), ("key", .object), ("take", .string)]),
        "MergeConflict": Object(
            "A row both branches changed since the base, differently: all three versions, and how it was settled (null: not).",
            [
                ("table", .string), ("key", .object), ("kind", .string), ("base", .optional(.object)), ("source", .optional(.object)),
                ("target", .optional(.object)), ("resolution", .optional(.string)),
            ]),
        "MergeTablePlan": Object(
            "What a merge writes to one table.",
            [("table", .string), ("inserts", .integer), ("updates", .integer), ("deletes", .integer), ("conflicts", .integer)]),
        "MergeResult": Object(
            "The plan of a merge and whether it was applied; `undoSnapshot` is the target's state before it.",
            [
                ("source", .string), ("target", .string), ("base", .string), ("dryRun", .boolean), ("applied", .boolean),
                ("schemaStatements", .array(.string)), ("schemaChanges", .array(.ref("DiffSchemaChange"))),
                ("tables", .array(.ref("MergeTablePlan"))), ("conflicts", .array(.ref("MergeConflict"))), ("undoSnapshot", .optional(.string)),
                ("operation", .optional(.ref("OperationTiming"))),
            ]),
        "EventInfo": Object(
            "Something that happened to a branch server on its own.",
            [("id", .integer), ("at", .dateTime), ("project", .string), ("branch", .optional(.string)), ("kind", .string), ("detail", .string)]),
        "EventList": Object("Events.", [("events", .array(.ref("EventInfo")))]),
        "MetricSample": Object(
            "One sample of a branch server; rates cover the preceding interval.",
            [
                ("at", .dateTime), ("status", .string), ("cpuPercent", .optional(.number)), ("memoryBytes", .optional(.integer)),
                ("ioReadBytesPerSecond", .optional(.number)), ("ioWriteBytesPerSecond", .optional(.number)),
                ("connections", .optional(.integer)), ("databaseBytes", .optional(.integer)), ("exclusiveBytes", .optional(.integer)),
                ("restarts", .integer),
            ]),
        "MetricSeries": Object("Samples of one branch.", [("project", .string), ("branch", .string), ("samples", .array(.ref("MetricSample")))]),
        "MetricsResponse": Object("Samples of branch servers.", [("intervalSeconds", .number), ("series", .array(.ref("MetricSeries")))]),
        "ProjectCreated": Object(
            "A created project and how to connect to it.",
            [("project", .ref("ProjectInfo")), ("connection", .ref("ConnectionResponse")), ("operation", .ref("OperationTiming"))]),
        "BranchInfo": Object(
            "A branch: a copy-on-write copy with its own Postgres server.",
            [
                ("project", .string), ("name", .string), ("parent", .optional(.string)), ("baseSnapshot", .optional(.string)),
                ("state", .string), ("status", .string), ("port", .integer), ("checkedOut", .boolean),
                ("exclusiveBytes", .optional(.integer)), ("createdAt", .dateTime), ("restarts", .integer),
                ("earliestRestorableAt", .optional(.dateTime)),
            ]),
        "BranchList": Object("Branches.", [("branches", .array(.ref("BranchInfo")))]),
        "CreateBranchRequest": Object(
            "A new branch, from a branch (default main) or a snapshot.",
            [("name", .string), ("from", .optional(.string)), ("snapshot", .optional(.string)), ("at", .optional(.dateTime))]),
        "BranchResult": Object(
            "A branch after an operation.",
            [("branch", .ref("BranchInfo")), ("replacedStateSnapshot", .optional(.ref("SnapshotInfo"))), ("operation", .ref("OperationTiming"))]),
        "DeleteResult": Object("What was deleted.", [("deleted", .array(.string)), ("operation", .ref("OperationTiming"))]),
        "SnapshotInfo": Object(
            "A read-only snapshot of a branch.",
            [
                ("id", .string), ("name", .optional(.string)), ("project", .string), ("sourceBranch", .string), ("kind", .string),
                ("createdAt", .dateTime), ("exclusiveBytes", .optional(.integer)), ("baseOf", .array(.string)),
            ]),
        "SnapshotList": Object("Snapshots.", [("snapshots", .array(.ref("SnapshotInfo")))]),
        "CreateSnapshotRequest": Object("A new snapshot.", [("branch", .optional(.string)), ("name", .optional(.string))]),
        "SnapshotResult": Object("A created snapshot.", [("snapshot", .ref("SnapshotInfo")), ("operation", .ref("OperationTiming"))]),
        "RestoreRequest": Object(
            "Restore as a new branch (`as`) or in place (`inPlace`, optionally into `branch`).",
            [("as", .optional(.string)), ("inPlace", .optional(.boolean)), ("branch", .optional(.string)), ("table", .optional(.string))]),
        "CheckoutRequest": Object("The branch the pooled endpoint should reach.", [("branch", .string)]),
        "CheckoutResult": Object(
            "The endpoint moved.", [("project", .string), ("previous", .string), ("checkedOut", .string), ("operation", .ref("OperationTiming"))]),
        "ConnectionResponse": Object(
            "How to connect.",
            [
                ("url", .string), ("host", .string), ("port", .integer), ("user", .string), ("password", .string), ("database", .string),
                ("pooled", .boolean), ("branch", .string),
            ]),
        "OperationInfo": Object(
            "One entry of the operations journal.",
            [
                ("id", .string), ("kind", .string), ("project", .optional(.string)), ("target", .optional(.string)), ("state", .string),
                ("startedAt", .dateTime), ("finishedAt", .optional(.dateTime)), ("durationMs", .optional(.number)),
                ("errorCode", .optional(.string)), ("errorMessage", .optional(.string)), ("recovery", .optional(.string)),
            ]),
        "OperationList": Object("Operations.", [("operations", .array(.ref("OperationInfo")))]),
    ]
}
