package import BranchCore
package import Foundation
import GRDB

/// The last verified restore of a project's backup (`branch backup verify`, or the weekly
/// scheduled run): which backup, when, and whether it checked out. One row per project, replaced
/// by each verification and removed with the project.
package struct VerificationRecord: Sendable, Equatable {
    package var project: ResourceName
    package var backupID: String
    package var at: Date
    package var ok: Bool
    /// Why it failed; nil when it passed.
    package var error: String?
    package var durationMs: Double

    package init(project: ResourceName, backupID: String, at: Date, ok: Bool, error: String?, durationMs: Double) {
        self.project = project
        self.backupID = backupID
        self.at = at
        self.ok = ok
        self.error = error
        self.durationMs = durationMs
    }
}

/// The table behind `VerificationRecord`.
enum VerificationTable {
    static func migrate(_ db: Database) throws {
        try db.create(table: "verification") { t in
            t.column("project", .text).primaryKey().references("project", onDelete: .cascade)
            t.column("backup_id", .text).notNull()
            t.column("at", .datetime).notNull()
            t.column("ok", .boolean).notNull()
            t.column("error", .text)
            t.column("duration_ms", .double).notNull()
        }
    }
}

extension CatalogTransaction {
    /// Every project's last verification.
    package func verifications() throws -> [VerificationRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM verification ORDER BY project").compactMap(Self.verification)
    }

    package func verification(_ project: ResourceName) throws -> VerificationRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM verification WHERE project = ?", arguments: [project.rawValue]).flatMap(Self.verification)
    }

    /// Records a verification as its project's last (a project deleted meanwhile records nothing).
    package func save(_ verification: VerificationRecord) throws {
        try db.execute(
            sql: """
                INSERT INTO verification (project, backup_id, at, ok, error, duration_ms)
                SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM project WHERE name = ?)
                ON CONFLICT (project) DO UPDATE SET backup_id = excluded.backup_id, at = excluded.at, ok = excluded.ok,
                    error = excluded.error, duration_ms = excluded.duration_ms
                """,
            arguments: [
                verification.project.rawValue, verification.backupID, verification.at, verification.ok, verification.error,
                verification.durationMs, verification.project.rawValue,
            ])
    }

    private static func verification(_ row: Row) -> VerificationRecord? {
        guard let project = try? ResourceName(validating: row["project"] as String) else { return nil }
        return VerificationRecord(
            project: project, backupID: row["backup_id"], at: row["at"], ok: row["ok"], error: row["error"], durationMs: row["duration_ms"])
    }
}
