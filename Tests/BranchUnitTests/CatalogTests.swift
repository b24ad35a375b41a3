@testable import BranchCatalog
@testable import BranchEngine
import BranchCore
import Foundation
import Testing

@Suite("Catalog")
struct CatalogTests {
    let scratch: ScratchDirectory
    let directory: String
    let catalog: Catalog

    init() throws {
        scratch = try ScratchDirectory("branch-catalog")
        directory = scratch.path
        catalog = try Catalog(path: "\(directory)/catalog.sqlite")
    }

    func name(_ raw: String) -> ResourceName { try! ResourceName(validating: raw) }

    func project(_ raw: String) -> ProjectRecord {
        ProjectRecord(
            name: name(raw), state: .ready, pgMajor: 15, role: raw, database: raw, password: "pw", verifier: "v",
            checkedOut: name("main"), createdAt: Date(timeIntervalSince1970: 1_800_000_000), operationID: "op-\(raw)")
    }

    func branch(_ project: String, _ raw: String, port: Int, parent: String? = nil) -> BranchRecord {
        BranchRecord(
            project: name(project), name: name(raw), parent: parent.map(name), baseSnapshot: parent.map { _ in "base1234" }, port: port,
            state: .creating, desired: .running, createdAt: Date(timeIntervalSince1970: 1_800_000_002), operationID: "op-\(raw)")
    }

    @Test("records round-trip every field, IDs included")
    func roundTrip() async throws {
        let record = project("app")
        let main = branch("app", "main", port: 54400)
        let feat = branch("app", "feat", port: 54401, parent: "main")
        let snapshot = SnapshotRecord(
            id: "base1234", project: name("app"), name: name("before"), sourceBranch: name("main"), kind: .preRestore, state: .ready,
            createdAt: Date(timeIntervalSince1970: 1_800_000_001), operationID: "op-snap")
        try await catalog.write { tx in
            try tx.insert(record)
            try tx.insert(main)
            try tx.insert(feat)
            try tx.insert(snapshot)
        }
        #expect(try await catalog.project(name("app")) == record)
        #expect(try await catalog.branch(name("app"), name("feat")) == feat)
        #expect(try await catalog.snapshots(name("app")) == [snapshot])
        #expect(try await catalog.read { try $0.snapshot(name("app"), idOrName: "before") } == snapshot)
        #expect(try await catalog.read { try $0.branches(basedOn: "base1234") }.map(\.name) == [name("feat")])
        #expect(try await catalog.read { try $0.children(name("app"), of: name("main")) }.map(\.name) == [name("feat")])
        #expect(try await catalog.read { try $0.usedPorts() } == [54400, 54401])
    }

    @Test("renaming a branch renames every row that names it, in its project only")
    func renameBranch() async throws {
        let app = project("app"), other = project("other")
        let snapshot = SnapshotRecord(
            id: "base1234", project: name("app"), name: nil, sourceBranch: name("feat"), kind: .base, state: .ready,
            createdAt: Date(timeIntervalSince1970: 1_800_000_001), operationID: "op-snap")
        var checkedOut = app
        checkedOut.checkedOut = name("feat")
        try await catalog.write { [checkedOut] tx in
            try tx.insert(checkedOut)
            try tx.insert(other)
            try tx.insert(branch("app", "main", port: 54400))
            try tx.insert(branch("app", "feat", port: 54401, parent: "main"))
            try tx.insert(branch("app", "sub", port: 54402, parent: "feat"))
            try tx.insert(branch("other", "feat", port: 54403))
            try tx.insert(snapshot)
            try tx.insert(LineageRecord(id: "l1", project: name("app"), branch: name("feat"), startedAt: Date(), endedAt: nil, startSnapshot: nil))
            try tx.insert(EventRecord(at: Date(), project: "app", branch: "feat", kind: "crashed", detail: "x"))
            try tx.insert(EventRecord(at: Date(), project: "other", branch: "feat", kind: "crashed", detail: "y"))
        }
        try await catalog.write { tx in try tx.renameBranch(name("app"), from: name("feat"), to: name("feature")) }
        #expect(try await catalog.branches(name("app")).map(\.name.rawValue).sorted() == ["feature", "main", "sub"])
        #expect(try await catalog.branch(name("app"), name("sub"))?.parent == name("feature"))
        #expect(try await catalog.project(name("app"))?.checkedOut == name("feature"))
        #expect(try await catalog.snapshots(name("app")).first?.sourceBranch == name("feature"))
        #expect(try await catalog.read { try $0.lineages(name("app")) }.map(\.branch) == [name("feature")])
        let events = try await catalog.events(limit: 10)
        #expect(events.first { $0.project == "app" }?.branch == "feature")
        #expect(events.first { $0.project == "other" }?.branch == "feat", "another project's branch of that name is untouched")
        #expect(try await catalog.branch(name("other"), name("feat")) != nil)
    }

    @Test("a branch keeps what it was made from: the parent's head, an instant, a WAL position, a snapshot or a backup")
    func origins() async throws {
        let instant = Date(timeIntervalSince1970: 1_800_000_000.25)
        let origins: [BranchOrigin?] = [
            nil, .head, .instant(instant), .position(try #require(WALPosition("0/16B3748"))), .snapshot("abc12345"), .backup("b7f3"),
        ]
        try await catalog.write { tx in
            try tx.insert(project("app"))
            for (index, origin) in origins.enumerated() {
                var record = branch("app", "b\(index)", port: 54400 + index)
                record.origin = origin
                try tx.insert(record)
            }
        }
        let kept = try await catalog.branches(name("app")).sorted { $0.port < $1.port }.map(\.origin)
        #expect(kept == origins)
        #expect(origins.compactMap { $0?.stored } == [
            "head", "instant:2027-01-15T08:00:00.250Z", "position:0/16B3748", "snapshot:abc12345", "backup:b7f3",
        ])
        for text in ["", "head:x", "instant:yesterday", "position:0/XYZ", "snapshot:", "tag:v1"] {
            #expect(BranchOrigin(stored: text) == nil, "\(text) is no origin")
        }
    }

    @Test("deleting a project cascades to its branches and snapshots")
    func cascade() async throws {
        try await catalog.write { tx in
            try tx.insert(project("app"))
            try tx.insert(branch("app", "main", port: 1))
        }
        try await catalog.write { try $0.deleteProject(name("app")) }
        #expect(try await catalog.allBranches().isEmpty)
    }

    @Test("a port is never given to two branches")
    func uniquePorts() async throws {
        try await catalog.write { tx in
            try tx.insert(project("a"))
            try tx.insert(project("b"))
            try tx.insert(branch("a", "main", port: 7))
        }
        await #expect(throws: CatalogError.self) {
            try await catalog.write { try $0.insert(branch("b", "main", port: 7)) }
        }
    }

    @Test("the journal lists running operations and finished ones newest first")
    func journal() async throws {
        var first = OperationRecord(id: "1", kind: "branch.create", project: "app", target: "feat", startedAt: Date(timeIntervalSince1970: 1))
        let second = OperationRecord(id: "2", kind: "checkout", project: "app", target: "feat", startedAt: Date(timeIntervalSince1970: 2))
        try await catalog.write { [first] tx in
            try tx.insert(first)
            try tx.insert(second)
        }
        first.state = .succeeded
        first.durationMs = 5
        let finished = first
        try await catalog.write { try $0.update(finished) }
        #expect(try await catalog.read { try $0.runningOperations() }.map(\.id) == ["2"])
        #expect(try await catalog.operations(project: "app").map(\.id) == ["2", "1"])
        #expect(try await catalog.operations(project: "other").isEmpty)
    }

    @Test("settings upsert")
    func settings() async throws {
        try await catalog.setSetting("k", "1")
        try await catalog.setSetting("k", "2")
        #expect(try await catalog.setting("k") == "2")
    }

    @Test("column names map to property names")
    func columns() {
        #expect(CatalogColumns.property(for: "operation_id") == "operationID")
        #expect(CatalogColumns.property(for: "base_snapshot") == "baseSnapshot")
        #expect(CatalogColumns.property(for: "name") == "name")
        #expect(CatalogColumns.property(for: "webhook_url") == "webhookURL")
        #expect(CatalogColumns.property(for: "snapshot_id") == "snapshotID")
    }

    @Test("the catalog file is private")
    func mode() throws {
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(directory)/catalog.sqlite")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}

@Suite("Secrets in text")
struct SecretsInTextTests {
    @Test("a project record printed, interpolated or dumped shows no password or verifier")
    func projectRecord() throws {
        let record = ProjectRecord(
            name: try ResourceName(validating: "app"), state: .ready, pgMajor: 15, role: "app", database: "app", password: "hunter2-secret",
            verifier: "SCRAM-SHA-256$4096:salt$stored:server", checkedOut: try ResourceName(validating: "main"), createdAt: Date(),
            operationID: nil)
        var dumped = ""
        dump(record, to: &dumped)
        for text in ["\(record)", String(describing: record), String(reflecting: record), dumped] {
            #expect(!text.contains("hunter2-secret"))
            #expect(!text.contains("SCRAM-SHA-256"))
        }
    }

    @Test("the secrets a backup carries never show in text either")
    func backupSecrets() {
        let secrets = BackupSecrets(
            role: "app", password: "hunter2-secret", verifier: "SCRAM-SHA-256$4096:salt$stored:server", database: "app", memoryLimit: nil,
            cpuLimit: nil, maxConnections: nil)
        var dumped = ""
        dump(secrets, to: &dumped)
        for text in ["\(secrets)", String(reflecting: secrets), dumped] {
            #expect(!text.contains("hunter2-secret") && !text.contains("SCRAM-SHA-256"))
        }
    }
}
