package import BranchCore
import GRDB

extension CatalogTransaction {
    /// Gives a branch its new name in every row that names it as a live branch: its own row, its
    /// children's parent, the project's checkout, snapshots taken of it, its WAL lineages, its
    /// backups (their incremental chain follows the branch), its events and its size baseline.
    /// The journal, the audit log and queued alerts keep the name they were written with.
    /// One transaction: the catalog has either name, never both.
    package func renameBranch(_ project: ResourceName, from old: ResourceName, to new: ResourceName) throws {
        let arguments: StatementArguments = [new.rawValue, project.rawValue, old.rawValue]
        try db.execute(sql: "UPDATE branch SET name = ? WHERE project = ? AND name = ?", arguments: arguments)
        try db.execute(sql: "UPDATE branch SET parent = ? WHERE project = ? AND parent = ?", arguments: arguments)
        try db.execute(sql: "UPDATE project SET checked_out = ? WHERE name = ? AND checked_out = ?", arguments: arguments)
        try db.execute(sql: "UPDATE snapshot SET source_branch = ? WHERE project = ? AND source_branch = ?", arguments: arguments)
        try db.execute(sql: "UPDATE lineage SET branch = ? WHERE project = ? AND branch = ?", arguments: arguments)
        try db.execute(sql: "UPDATE backup SET branch = ? WHERE project = ? AND branch = ?", arguments: arguments)
        try db.execute(sql: "UPDATE event SET branch = ? WHERE project = ? AND branch = ?", arguments: arguments)
        // A baseline left by a deleted branch of the new name is stale: this branch's replaces it.
        try db.execute(sql: "DELETE FROM alert_size_baseline WHERE project = ? AND branch = ?", arguments: [project.rawValue, new.rawValue])
        try db.execute(sql: "UPDATE alert_size_baseline SET branch = ? WHERE project = ? AND branch = ?", arguments: arguments)
    }
}
