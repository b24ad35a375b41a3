import BranchAPI
@testable import BranchCLI
@testable import BranchEngine
import BranchCore
import BranchStorage
import Foundation
import Logging
import Testing

@Suite("Pooler configuration")
struct PoolerConfigurationTests {
    @Test("one entry per branch and one per project, all through the private socket directory")
    func config() async {
        let pooler = Pooler(
            layout: PoolLayout(root: "/pool"), port: 6432, listenAddress: "*", adminPassword: "secret", logger: Logger(label: "test"))
        let text = await pooler.renderConfig(entries: [
            PoolerEntry(name: "app__main", port: 54400, database: "app"),
            PoolerEntry(name: "app", port: 54401, database: "app"),
        ])
        #expect(text.contains("app = host=/pool/run/pg/54401 port=54401 dbname=app\n"))
        #expect(text.contains("app__main = host=/pool/run/pg/54400 port=54400 dbname=app\n"))
        #expect(text.contains("auth_type = scram-sha-256"))
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
    func branch(_ name: String, parent: String?) -> BranchInfo {
        BranchInfo(
            project: "app", name: name, parent: parent, baseSnapshot: nil, state: "ready", status: "running", port: 1, checkedOut: false,
            exclusiveBytes: nil, createdAt: Date())
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
        let slow = BranchAPI.OperationTiming(id: "x", durationMs: 1500, steps: [.init(name: "start", ms: 1200), .init(name: "catalog", ms: 2)])
        #expect(Format.timing(slow) == "in 1.5 s (start 1.2 s)")
        #expect(Format.timing(BranchAPI.OperationTiming(id: "x", durationMs: 120, steps: [])) == "in 120 ms")
    }

    @Test("API paths escape their segments")
    func paths() {
        #expect(APIPath.branches("app", "feat") == "/api/v1/projects/app/branches/feat")
        #expect(APIPath.snapshots("app", "a/b") == "/api/v1/projects/app/snapshots/a%2Fb")
    }
}
