import BranchAPI
import Foundation
import Testing

@Suite("API contract")
struct APIContractTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("docs/openapi.json is the document the routes generate (run `make docs` after changing routes)")
    func documentIsCurrent() throws {
        let committed = try String(contentsOf: Self.packageRoot.appendingPathComponent("docs/openapi.json"), encoding: .utf8)
        #expect(committed == OpenAPIDocument.text())
    }

    @Test("every route is documented once, with its path parameters")
    func routesAreDocumented() throws {
        let document = OpenAPIDocument.build()
        let paths = try #require(document["paths"]?.objectValue)
        var operationIDs = Set<String>()
        for route in APIRoute.all {
            let operation = try #require(paths[route.path]?[route.method.rawValue.lowercased()], "\(route.method) \(route.path)")
            #expect(operation["operationId"]?.stringValue == route.operationID)
            let parameters = operation["parameters"]?.arrayValue ?? []
            let pathParameters = parameters.filter { $0["in"]?.stringValue == "path" }.compactMap { $0["name"]?.stringValue }
            #expect(pathParameters == route.pathParameters)
            #expect(operationIDs.insert(route.operationID).inserted, "duplicate operation id \(route.operationID)")
        }
        let documentedCount = paths.values.reduce(0) { $0 + ($1.objectValue?.count ?? 0) }
        #expect(documentedCount == APIRoute.all.count)
    }

    @Test("every schema reference resolves")
    func referencesResolve() throws {
        let text = OpenAPIDocument.text()
        let pattern = "#/components/schemas/"
        var names = Set<String>()
        var rest = Substring(text)
        while let range = rest.range(of: pattern) {
            rest = rest[range.upperBound...]
            names.insert(String(rest.prefix { $0 != "\"" }))
        }
        for name in names { #expect(APISchemas.objects[name] != nil, "missing schema \(name)") }
        for route in APIRoute.all {
            #expect(route.responseSchema == "Text" || APISchemas.objects[route.responseSchema] != nil)
            if let request = route.requestSchema { #expect(APISchemas.objects[request] != nil) }
        }
    }

    @Test("router paths use Hummingbird's :name form")
    func routerPaths() {
        #expect(APIRoute.getBranch.routerPath == "/api/v1/projects/:project/branches/:branch")
        #expect(APIRoute.getBranch.pathParameters == ["project", "branch"])
        #expect(APIRoute.health.requiresAuth == false)
        #expect(APIRoute.all.filter { !$0.requiresAuth }.map(\.operationID) == ["health"])
        #expect(APIRoute.prometheus.path == "/metrics")
    }

    /// Encodes one sample of each model and checks its keys against the schema of the same name.
    @Test("models and schemas agree", arguments: Samples.all)
    func modelMatchesSchema(_ sample: Samples.Sample) throws {
        let schema = try #require(APISchemas.objects[sample.schema], "no schema \(sample.schema)")
        let json = try JSONSerialization.jsonObject(with: sample.encode()) as? [String: Any]
        let keys = Set(try #require(json).keys)
        #expect(keys.isSubset(of: schema.propertyNames), "\(sample.schema): undocumented \(keys.subtracting(schema.propertyNames))")
        #expect(schema.requiredNames.isSubset(of: keys), "\(sample.schema): required but absent \(schema.requiredNames.subtracting(keys))")
    }
}

/// Fully populated samples of the API models.
enum Samples {
    struct Sample: Sendable, CustomTestStringConvertible {
        let schema: String
        let encode: @Sendable () throws -> Data
        var testDescription: String { schema }
    }

    static func sample<T: Encodable & Sendable>(_ schema: String, _ value: T) -> Sample {
        Sample(schema: schema) { try JSONEncoder.api.encode(value) }
    }

    static let date = Date(timeIntervalSince1970: 1_800_000_000)
    static let timing = OperationTiming(id: "op", durationMs: 12.5, steps: [.init(name: "snapshot", ms: 3)])
    static let project = ProjectInfo(
        name: "app", createdAt: date, postgresMajor: 15, role: "app", database: "app", checkedOut: "main", branches: 2, snapshots: 1,
        exclusiveBytes: 10, poolerHost: "127.0.0.1", poolerPort: 6432, memoryBytes: 1 << 30, cpus: 1.5, maxConnections: 50,
        suspendAfterSeconds: 900, suspendMainAfterSeconds: 0)
    static let settings = ProjectSettings(memoryBytes: 1, cpus: 1, maxConnections: 1, suspendAfterSeconds: 1, suspendMainAfterSeconds: 1)
    static let metric = MetricSample(
        at: date, status: "running", cpuPercent: 1, memoryBytes: 1, ioReadBytesPerSecond: 1, ioWriteBytesPerSecond: 1, connections: 1,
        databaseBytes: 1, exclusiveBytes: 1, restarts: 0)
    static let branch = BranchInfo(
        project: "app", name: "feat", parent: "main", baseSnapshot: "abcd1234", state: "ready", status: "running", port: 54400,
        checkedOut: false, exclusiveBytes: 10, createdAt: date, restarts: 1)
    static let snapshot = SnapshotInfo(
        id: "abcd1234", name: "before", project: "app", sourceBranch: "main", kind: "manual", createdAt: date, exclusiveBytes: 1,
        baseOf: ["feat"])
    static let connection = ConnectionResponse(
        url: "postgres://app:pw@127.0.0.1:6432/app", host: "127.0.0.1", port: 6432, user: "app", password: "pw", database: "app",
        pooled: true, branch: "main")
    static let operation = OperationInfo(
        id: "op", kind: "branch.create", project: "app", target: "feat", state: "failed", startedAt: date, finishedAt: date,
        durationMs: 3, errorCode: "pool_full", errorMessage: "full", recovery: "rolled back")

    static let all: [Sample] = [
        sample("ErrorBody", ErrorBody(error: .init(code: "c", message: "m", hint: "h", requestId: "r"))),
        sample("ErrorDetail", ErrorBody.Detail(code: "c", message: "m", hint: "h", requestId: "r")),
        sample("HealthResponse", HealthResponse(status: "ok", version: "1")),
        sample(
            "StatusResponse",
            StatusResponse(
                version: "1", startedAt: date, pool: .init(path: "/p", mount: "m", freeBytes: 1, totalBytes: 2, quotas: true),
                postgres: .init(version: "15.1", major: 15, binDirectory: "/b"),
                runtime: .init(name: "podman", cgroups: "v2", limitsEnforced: true, notes: ["n"]), pooler: .init(port: 6432, running: true),
                projects: 1, branches: 2, branchesRunning: 2)),
        sample("PoolStatus", StatusResponse.Pool(path: "/p", mount: "m", freeBytes: 1, totalBytes: 2, quotas: true)),
        sample("PostgresStatus", StatusResponse.Postgres(version: "15.1", major: 15, binDirectory: "/b")),
        sample("PoolerStatus", StatusResponse.Pooler(port: 1, running: true)),
        sample("RuntimeStatus", StatusResponse.Runtime(name: "podman", cgroups: "v2", limitsEnforced: true, notes: [])),
        sample("OperationTiming", timing),
        sample("OperationStep", OperationTiming.Step(name: "s", ms: 1)),
        sample("ProjectInfo", project),
        sample("ProjectList", ProjectList(projects: [project])),
        sample("CreateProjectRequest", CreateProjectRequest(name: "app", settings: settings)),
        sample("ProjectSettings", settings),
        sample("ProjectUpdated", ProjectUpdated(project: project, restarted: ["main"], operation: timing)),
        sample("EventInfo", EventInfo(id: 1, at: date, project: "app", branch: "main", kind: "crashed", detail: "d")),
        sample("EventList", EventList(events: [EventInfo(id: 1, at: date, project: "app", branch: nil, kind: "k", detail: "d")])),
        sample("MetricSample", metric),
        sample("MetricSeries", MetricSeries(project: "app", branch: "main", samples: [metric])),
        sample("MetricsResponse", MetricsResponse(intervalSeconds: 5, series: [MetricSeries(project: "app", branch: "main", samples: [metric])])),
        sample("ProjectCreated", ProjectCreated(project: project, connection: connection, operation: timing)),
        sample("BranchInfo", branch),
        sample("BranchList", BranchList(branches: [branch])),
        sample("CreateBranchRequest", CreateBranchRequest(name: "feat", from: "main", snapshot: "s")),
        sample("BranchResult", BranchResult(branch: branch, replacedStateSnapshot: snapshot, operation: timing)),
        sample("DeleteResult", DeleteResult(deleted: ["feat"], operation: timing)),
        sample("SnapshotInfo", snapshot),
        sample("SnapshotList", SnapshotList(snapshots: [snapshot])),
        sample("CreateSnapshotRequest", CreateSnapshotRequest(branch: "main", name: "n")),
        sample("SnapshotResult", SnapshotResult(snapshot: snapshot, operation: timing)),
        sample("RestoreRequest", RestoreRequest(as: "x", inPlace: true, branch: "main")),
        sample("CheckoutRequest", CheckoutRequest(branch: "feat")),
        sample("CheckoutResult", CheckoutResult(project: "app", previous: "main", checkedOut: "feat", operation: timing)),
        sample("ConnectionResponse", connection),
        sample("OperationInfo", operation),
        sample("OperationList", OperationList(operations: [operation])),
    ]
}
