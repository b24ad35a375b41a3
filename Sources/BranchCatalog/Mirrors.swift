package import Foundation
import GRDB

/// A project whose `main` follows a Postgres outside Branch by logical replication: where from
/// (the URL sealed, for the service's own checks of lag and schema; a redacted copy to show), the
/// publication on the source (and whether Branch made it, so it drops it again) and the
/// subscription's name, which is also its replication slot's on the source.
package struct MirrorRecord: Sendable, Equatable {
    package var project: String
    package var sourceURL: String
    package var displayURL: String
    package var publication: String
    package var createdPublication: Bool
    package var subscription: String
    package var createdAt: Date

    package init(
        project: String, sourceURL: String, displayURL: String, publication: String, createdPublication: Bool, subscription: String,
        createdAt: Date
    ) {
        self.project = project
        self.sourceURL = sourceURL
        self.displayURL = displayURL
        self.publication = publication
        self.createdPublication = createdPublication
        self.subscription = subscription
        self.createdAt = createdAt
    }
}

/// The table behind `MirrorRecord` (v12); a row goes with its project.
enum MirrorTable {
    static func migrate(_ db: Database) throws {
        try db.create(table: "mirror") { t in
            t.column("project", .text).primaryKey().references("project", onDelete: .cascade)
            t.column("source_url", .text).notNull()
            t.column("display_url", .text).notNull()
            t.column("publication", .text).notNull()
            t.column("created_publication", .boolean).notNull()
            t.column("subscription", .text).notNull()
            t.column("created_at", .datetime).notNull()
        }
    }
}

extension CatalogTransaction {
    package func mirror(_ project: String) throws -> MirrorRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM mirror WHERE project = ?", arguments: [project]).map(opened)
    }

    package func mirrors() throws -> [MirrorRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM mirror ORDER BY project").map(opened)
    }

    package func insert(_ mirror: MirrorRecord) throws {
        try db.execute(
            sql: """
                INSERT INTO mirror (project, source_url, display_url, publication, created_publication, subscription, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                mirror.project, secrets.seal(mirror.sourceURL, purpose: SealedColumn.mirrorSource.purpose), mirror.displayURL,
                mirror.publication, mirror.createdPublication, mirror.subscription, mirror.createdAt,
            ])
    }

    private func opened(_ row: Row) throws -> MirrorRecord {
        MirrorRecord(
            project: row["project"], sourceURL: try secrets.open(row["source_url"], purpose: SealedColumn.mirrorSource.purpose),
            displayURL: row["display_url"], publication: row["publication"], createdPublication: row["created_publication"],
            subscription: row["subscription"], createdAt: row["created_at"])
    }
}
