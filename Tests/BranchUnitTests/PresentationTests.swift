import BranchAPI
@testable import BranchCLI
@testable import BranchEngine
import BranchCore
import BranchStorage
import Foundation
import HTTPTypes
import Logging
import OpenAPIRuntime
import Synchronization
import Testing

@Suite("Pooler configuration")
struct PoolerConfigurationTests {
    @Test("one entry per branch and one per project, all through the private socket directory")
    func config() async {
        let pooler = Pooler(
            layout: PoolLayout(root: "/pool"), port: 6432, listenAddress: "*", adminPassword: "secret", logger: Logger(label: "test"))
        let text = await pooler.renderConfig(entries: [
            PoolerEntry(name: "app__main", port: 54400, database: "app", role: "app", allowlist: Allowlist()),
            PoolerEntry(name: "app", port: 54401, database: "app", role: "app", allowlist: Allowlist()),
        ])
        #expect(text.contains("app = host=/pool/run/pg/54401 port=54401 dbname=app\n"))
        #expect(text.contains("app__main = host=/pool/run/pg/54400 port=54400 dbname=app\n"))
        #expect(text.contains("auth_type = hba\n"))
        #expect(text.contains("auth_hba_file = /pool/run/pgbouncer/hba.conf\n"))
        #expect(text.contains("listen_port = 6432"))
        #expect(!text.contains("secret"))
        // Entries are sorted so rewrites with the same content are byte-identical.
        #expect(text.range(of: "app = ")!.lowerBound < text.range(of: "app__main = ")!.lowerBound)
    }

    @Test("the auth file holds verifiers, quoted")
    func authFile() {
        let text = Pooler.renderAuthFile(users: [("app", "SCRAM-SHA-256$4096:a$b:c")])
        #expect(text == "\"app\" \"SCRAM-SHA-256$4096:a$b:c\"\n")
    }

    @Test("pooler database names cannot collide: names have no underscores")
    func poolerNames() throws {
        let project = try ResourceName(validating: "app")
        let branch = try ResourceName(validating: "feature-x")
        #expect(FrontDoor.entryName(project, branch) == "app__feature-x")
    }
}

@Suite("Terminal output")
struct TerminalOutputTests {
    func branch(_ name: String, parent: String?) -> Components.Schemas.BranchInfo {
        Components.Schemas.BranchInfo(
            baseSnapshot: nil, checkedOut: false, createdAt: Date(), exclusiveBytes: nil, name: name, parent: parent, port: 1, project: "app", protected: false,
            restarts: 0, state: "ready", status: "running")
    }

    @Test("branches render as a tree under their parents")
    func tree() {
        let lines = BranchTree.lines([
            branch("main", parent: nil), branch("a", parent: "main"), branch("b", parent: "a"), branch("c", parent: "main"),
            branch("orphan", parent: "deleted"),
        ]).map(\.label)
        #expect(lines == ["main", "├─ a", "│  └─ b", "└─ c", "orphan"])
    }

    @Test("tables align columns and ignore colour codes")
    func table() {
        var table = Table("A", "B")
        table.add("\u{1B}[32mgreen\u{1B}[0m", "x")
        table.add("longer-cell", "y")
        let lines = table.rendered.split(separator: "\n").map(String.init)
        #expect(Table.visibleWidth(lines[1]) == Table.visibleWidth(lines[2]))
    }

    @Test("durations and ages")
    func formats() {
        #expect(Format.duration(ms: 183.4) == "183 ms")
        #expect(Format.duration(ms: 1400) == "1.4 s")
        let now = Date()
        #expect(Format.age(now.addingTimeInterval(-5), now: now) == "5s")
        #expect(Format.age(now.addingTimeInterval(-7200), now: now) == "2h")
        let slow = Components.Schemas.OperationTiming(durationMs: 1500, id: "x", steps: [.init(ms: 1200, name: "start"), .init(ms: 2, name: "catalog")])
        #expect(Format.timing(slow) == "in 1.5 s (start 1.2 s)")
        #expect(Format.timing(Components.Schemas.OperationTiming(durationMs: 120, id: "x", steps: [])) == "in 120 ms")
    }

    /// Records the path of each request the generated client would send, and sends none.
    final class PathRecorder: ClientTransport {
        let paths = Mutex<[String]>([])
        struct NotSent: Error {}

        func send(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String) async throws -> (HTTPResponse, HTTPBody?) {
            paths.withLock { $0.append(request.path ?? "") }
            throw NotSent()
        }
    }

    @Test("API paths escape their segments")
    func paths() async throws {
        let recorder = PathRecorder()
        let client = Client(serverURL: try #require(URL(string: "http://127.0.0.1:8420")), transport: recorder)
        _ = try? await client.getBranch(path: .init(project: "app", branch: "feat"))
        _ = try? await client.deleteSnapshot(path: .init(project: "app", snapshot: "a/b"))
        #expect(recorder.paths.withLock { $0 } == ["/api/v1/projects/app/branches/feat", "/api/v1/projects/app/snapshots/a%2Fb"])
    }
}
