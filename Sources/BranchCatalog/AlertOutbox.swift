package import Foundation
package import GRDB

/// An alert waiting for delivery to one channel: written when the alert is raised, deleted once it
/// is delivered or given up, so alerts still queued or retrying when the service stops are sent
/// after it starts again. It names its channel rather than copying it (the channel's secrets stay
/// sealed in `alert_channel`); a channel removed or replaced meanwhile takes its pending alerts
/// with it. `owner` is the service process that holds the delivery.
package struct AlertOutboxRecord: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "alert_outbox"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    package var id: Int64?
    package var channelID: Int64
    package var owner: String
    /// The event's fields (`AlertEvent` in BranchEngine).
    package var kind: String
    package var severity: String
    package var project: String?
    package var branch: String?
    package var title: String
    package var detail: String
    package var raisedAt: Date

    package init(
        id: Int64? = nil, channelID: Int64, owner: String, kind: String, severity: String, project: String?, branch: String?, title: String,
        detail: String, raisedAt: Date
    ) {
        self.id = id
        self.channelID = channelID
        self.owner = owner
        self.kind = kind
        self.severity = severity
        self.project = project
        self.branch = branch
        self.title = title
        self.detail = detail
        self.raisedAt = raisedAt
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

enum AlertOutboxTable {
    /// v11: the alert outbox (gone with its channel).
    static func migrate(_ db: Database) throws {
        try db.create(table: "alert_outbox") { t in
            t.autoIncrementedPrimaryKey("id")
            t.column("channel_id", .integer).notNull().indexed().references("alert_channel", onDelete: .cascade)
            t.column("owner", .text).notNull()
            t.column("kind", .text).notNull()
            t.column("severity", .text).notNull()
            t.column("project", .text)
            t.column("branch", .text)
            t.column("title", .text).notNull()
            t.column("detail", .text).notNull()
            t.column("raised_at", .datetime).notNull()
        }
    }
}

extension CatalogTransaction {
    /// Records pending deliveries; returns them with their ids.
    package func insertOutbox(_ records: [AlertOutboxRecord]) throws -> [AlertOutboxRecord] {
        try records.map { record in
            var stored = record
            try stored.insert(db)
            return stored
        }
    }

    /// Forgets a delivery (delivered, or given up).
    package func deleteOutbox(_ id: Int64) throws {
        _ = try AlertOutboxRecord.deleteOne(db, key: id)
    }

    /// Takes over the deliveries of earlier service processes (`owner` other than `owner`), oldest
    /// first, with their channels (secrets opened).
    package func claimOutbox(for owner: String) throws -> [(AlertOutboxRecord, AlertChannelRecord)] {
        let records = try AlertOutboxRecord.filter(Column("owner") != owner).order(Column("id")).fetchAll(db)
        var claimed: [(AlertOutboxRecord, AlertChannelRecord)] = []
        for var record in records {
            guard let channel = try AlertChannelRecord.fetchOne(db, key: record.channelID) else {
                _ = try record.delete(db)
                continue
            }
            record.owner = owner
            try record.update(db)
            claimed.append((record, try opened(channel)))
        }
        return claimed
    }
}
