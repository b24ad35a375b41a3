@testable import BranchCatalog
import BranchCore
@testable import BranchEngine
import Foundation
import Testing

@Suite("Reconciliation decisions")
struct ReconcileDecisionsTests {
    func name(_ raw: String) -> ResourceName { try! ResourceName(validating: raw) }

    func branch(_ raw: String, parent: String? = nil, base: String? = nil, state: ObjectState = .ready) -> BranchRecord {
        BranchRecord(
            project: name("app"), name: name(raw), parent: parent.map(name), baseSnapshot: base, port: 1, state: state, desired: .running,
            createdAt: Date(), operationID: "op")
    }

    func snapshot(_ id: String, kind: SnapshotKind, state: ObjectState = .ready) -> SnapshotRecord {
        SnapshotRecord(id: id, project: name("app"), name: nil, sourceBranch: name("main"), kind: kind, state: state, createdAt: Date(), operationID: "op")
    }

    func backup(_ id: String, snapshot: String, status: BackupStatus) -> BackupRecord {
        BackupRecord(
            id: id, project: name("app"), branch: name("main"), snapshotID: snapshot, parentID: nil, kind: .full, target: "dir", status: status,
            startedAt: Date(), finishedAt: nil, rawBytes: 0, storedBytes: 0, error: nil)
    }

    var project: ProjectRecord {
        ProjectRecord(
            name: name("app"), state: .ready, pgMajor: 15, role: "app", database: "app", password: "p", verifier: "v", checkedOut: name("feat"),
            createdAt: Date(), operationID: nil)
    }

    @Test("an interrupted rename goes the way of whichever of subvolume and catalog already has the new name")
    func renames() {
        let marker = RenameMarker(operation: "op", from: "feat", to: "feature")
        #expect(RenameRecovery.decide(directory: "feat", marker: marker, catalogHasOld: true, catalogHasNew: false) == .undo)
        #expect(RenameRecovery.decide(directory: "feature", marker: marker, catalogHasOld: true, catalogHasNew: false) == .renameCatalog)
        #expect(RenameRecovery.decide(directory: "feature", marker: marker, catalogHasOld: false, catalogHasNew: true) == .finish)
        #expect(RenameRecovery.decide(directory: "feat", marker: marker, catalogHasOld: false, catalogHasNew: true) == .moveData)
    }

    @Test("a rename is refused for main, a protected branch, a taken name and the same name, before anything moves")
    func renameRefusals() {
        func code(_ record: BranchRecord, _ new: String, taken: Bool = false) -> ErrorCode? {
            do {
                try BranchRenames.check(record, to: name(new), taken: taken)
                return nil
            } catch { return (error as? any ReportableError)?.code }
        }
        var protected = branch("feat")
        protected.protected = true
        #expect(code(branch("main"), "trunk") == .branchIsMain)
        #expect(code(protected, "feature") == .branchProtected)
        #expect(code(branch("feat"), "main", taken: true) == .branchExists)
        #expect(code(branch("feat"), "feat") == .invalidRequest)
        #expect(code(branch("feat"), "feature") == nil)
    }

    @Test("a backup still running failed; only the snapshot of the newest complete backup is kept")
    func backups() {
        let rows = [backup("b1", snapshot: "s1", status: .complete), backup("b2", snapshot: "s2", status: .running)]
        #expect(ReconcileDecisions.interruptedBackups(rows).map(\.id) == ["b2"])
        let snapshots = [snapshot("s1", kind: .backup), snapshot("s2", kind: .backup), snapshot("m", kind: .manual)]
        #expect(ReconcileDecisions.unneededBackupSnapshots(snapshots, backups: rows).map(\.id) == ["s2"])
    }

    @Test("what is creating or deleting is unfinished; ready is left alone")
    func unfinished() {
        let branches = [branch("a"), branch("b", state: .creating), branch("c", state: .deleting)]
        #expect(ReconcileDecisions.unfinished(branches, state: \.state).map(\.name.rawValue) == ["b", "c"])
    }

    @Test("subvolumes and directories the catalog does not know are found, sorted")
    func unknownOnDisk() {
        #expect(ReconcileDecisions.unknown(onDisk: ["z", "main", "a"], known: ["main"]) == ["a", "z"])
        #expect(ReconcileDecisions.unknown(onDisk: [], known: ["main"]).isEmpty)
    }

    @Test("a branch whose data is gone loses its row; its children move to its parent; the checkout falls back")
    func missingData() {
        let rows = [branch("main"), branch("feat", parent: "main"), branch("child", parent: "feat")]
        let gone = ReconcileDecisions.branchesWithoutData(rows, subvolumes: ["main", "child"])
        #expect(gone.map(\.name.rawValue) == ["feat"])
        let (children, updated) = ReconcileDecisions.afterRemoving(gone[0], children: [rows[2]], project: project, remaining: rows)
        #expect(children.map(\.parent?.rawValue) == ["main"])
        #expect(updated.checkedOut.rawValue == "main")
        let (_, untouched) = ReconcileDecisions.afterRemoving(rows[2], children: [], project: project, remaining: rows)
        #expect(untouched.checkedOut.rawValue == "feat", "a checkout elsewhere stays")
    }

    @Test("snapshot rows go when their subvolume is missing or when they are a base nothing uses")
    func snapshots() {
        let users = [branch("feat", parent: "main", base: "used")]
        #expect(ReconcileDecisions.snapshotRemoval(snapshot("x", kind: .manual), hasSubvolume: false, branches: users) == .missing)
        #expect(ReconcileDecisions.snapshotRemoval(snapshot("free", kind: .base), hasSubvolume: true, branches: users) == .unusedBase)
        #expect(ReconcileDecisions.snapshotRemoval(snapshot("used", kind: .base), hasSubvolume: true, branches: users) == nil)
        #expect(ReconcileDecisions.snapshotRemoval(snapshot("m", kind: .manual), hasSubvolume: true, branches: []) == nil)
    }

    @Test("an interrupted operation's recovery names what was repaired for it")
    func recoveryText() {
        #expect(ReconcileDecisions.recoveryText(own: ["a"], general: ["g"], interruptedCount: 1) == "a; g")
        #expect(ReconcileDecisions.recoveryText(own: ["a"], general: ["g"], interruptedCount: 2) == "a")
        #expect(ReconcileDecisions.recoveryText(own: [], general: [], interruptedCount: 1) == "nothing to repair")
    }
}
