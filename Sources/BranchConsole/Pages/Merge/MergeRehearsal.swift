import BranchAPI
import Foundation

/// The merge page's "Preview as a diff": the merge, with the page's choices, applied to a
/// temporary copy of the target; then that copy diffed against the target. The page shows the
/// very rows the merge would write, as the diff page shows rows. The copy and the snapshot the
/// merge took of it are deleted after; the target is never touched.
struct MergeRehearsal: Sendable {
    /// One table's rows as the merge would change them (the first `rowsPerTable`).
    struct Table: Sendable {
        var name: String
        var added: Int
        var removed: Int
        var changed: Int
        /// Its rows as the diff page shows them (`DiffRowTable.html`).
        var rowsHTML: HTML
        var more: Bool
    }

    struct Outcome: Sendable {
        var target: String
        var tables: [Table]
        var hasTables: Bool
        var schema: [String]
        var hasSchema: Bool
        /// Tables changed beyond the first `tablesShown`.
        var moreTables: Int
        var hasMoreTables: Bool
    }

    static let tablesShown = 10
    static let rowsPerTable = 20

    let environment: ConsoleEnvironment
    let project: String

    /// Deletes the snapshots taken of `branch` (the copy): snapshots outlive their branch. Found by
    /// listing, so one taken by a merge whose answer was lost goes too.
    private func dropSnapshots(of branch: String) async {
        let project = project
        let taken = (try? await environment.call("listSnapshots", project: project) {
            try await $0.listSnapshots(.init(path: .init(project: project))).ok.body.json.snapshots
        })?.filter { $0.sourceBranch == branch } ?? []
        for snapshot in taken {
            _ = try? await environment.call("deleteSnapshot", project: project, changes: true, target: snapshot.id) {
                try await $0.deleteSnapshot(.init(path: .init(project: project, snapshot: snapshot.id))).ok.body.json
            }
        }
    }

    /// What `merge` (its source into `target`) would change in `target`. Unresolved conflicts make
    /// the rehearsal fail as the merge itself would (`merge_conflicts`), with nothing left behind.
    func rehearse(_ merge: MergeCall, target: String) async throws -> Outcome {
        let project = project
        return try await TemporaryBranch(environment: environment, project: project).at(nil, of: target, prefix: "rehearse") { copy in
            let result: Components.Schemas.MergeResult
            do {
                result = try await merge.run(into: copy, dryRun: false, audit: "\(merge.source)→\(copy) (preview)")
            } catch {
                await dropSnapshots(of: copy)
                throw error
            }
            // The merge snapshotted the copy first (its undo point): it goes with the copy.
            await dropSnapshots(of: copy)
            guard result.conflicts.allSatisfy({ $0.resolution != nil }) else {
                throw ConsoleFailure(
                    status: 409, code: "merge_conflicts", message: "The preview needs every conflict settled, as the merge does.",
                    hint: "Choose ours or theirs for each conflict, or a side for all, then preview again.")
            }
            let reader = DiffReader(environment: environment, project: project)
            let summary = try await reader.summary(from: target, to: copy)
            let changed = summary.tables.filter { $0.added + $0.removed + $0.changed > 0 }
            var tables: [Table] = []
            for table in changed.prefix(Self.tablesShown) {
                let rows = try await reader.rows(from: target, to: copy, table: table.table, take: Self.rowsPerTable) { _ in true }
                tables.append(Table(
                    name: table.table, added: table.added, removed: table.removed, changed: table.changed,
                    rowsHTML: DiffRowTable(rows: rows, onlyChanged: true).html(name: table.table, selectable: false), more: table.added + table.removed + table.changed > rows.count))
            }
            let schema = summary.schema.map { "\($0.change) \($0.objectType) \($0.name)" }
            return Outcome(
                target: target, tables: tables, hasTables: !tables.isEmpty, schema: schema, hasSchema: !schema.isEmpty,
                moreTables: max(0, changed.count - Self.tablesShown), hasMoreTables: changed.count > Self.tablesShown)
        }
    }
}
