import BranchCore
package import Foundation
package import GRDB

/// Where an alert channel delivers.
package enum AlertChannelKind: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    /// A JSON document POSTed to a URL.
    case webhook
    /// Slack's incoming-webhook format (`{"text": …, "blocks": […]}`).
    case slack
    /// An e-mail through an SMTP server.
    case email
}

/// One alert channel of the instance (`project` nil) or of a project; at most one of each kind per
/// scope. `url` (webhook, Slack) and `smtpPassword` are stored sealed: the rest of Branch sees
/// them plain through `CatalogTransaction`, and shows them redacted.
package struct AlertChannelRecord: Codable, Sendable, Hashable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "alert_channel"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    package var id: Int64?
    package var project: String?
    package var kind: AlertChannelKind
    /// The webhook or Slack URL (a bearer credential).
    package var url: String?
    /// E-mail: recipients (comma-separated), sender, server URL (`smtp://user@host:port`, no
    /// password), password, and PEM certificates to trust instead of the system's.
    package var emailTo: String?
    package var emailFrom: String?
    package var smtpURL: String?
    package var smtpPassword: String?
    package var smtpTrust: String?
    /// Whether success events (a backup that worked) are delivered too.
    package var includeSuccess: Bool
    package var createdAt: Date

    package init(
        id: Int64? = nil, project: String?, kind: AlertChannelKind, url: String? = nil, emailTo: String? = nil, emailFrom: String? = nil,
        smtpURL: String? = nil, smtpPassword: String? = nil, smtpTrust: String? = nil, includeSuccess: Bool, createdAt: Date = Date()
    ) {
        self.id = id
        self.project = project
        self.kind = kind
        self.url = url
        self.emailTo = emailTo
        self.emailFrom = emailFrom
        self.smtpURL = smtpURL
        self.smtpPassword = smtpPassword
        self.smtpTrust = smtpTrust
        self.includeSuccess = includeSuccess
        self.createdAt = createdAt
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A branch's database size when its newest backup was taken, the base of the size-jump alert.
package struct SizeBaselineRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    package static let databaseTableName = "alert_size_baseline"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    package var project: String
    package var branch: String
    package var backupID: String
    package var databaseBytes: Int64
    /// Whether the jump past the threshold was already reported (once per backup).
    package var alerted: Bool

    package init(project: String, branch: String, backupID: String, databaseBytes: Int64, alerted: Bool) {
        self.project = project
        self.branch = branch
        self.backupID = backupID
        self.databaseBytes = databaseBytes
        self.alerted = alerted
    }
}

enum AlertTables {
    /// v8: alert channels, per-project alert settings and size baselines (all gone with their project).
    static func migrate(_ db: Database) throws {
        try db.create(table: "alert_channel") { t in
            t.autoIncrementedPrimaryKey("id")
            t.column("project", .text).references("project", onDelete: .cascade)
            t.column("kind", .text).notNull()
            t.column("url", .text)
            t.column("email_to", .text)
            t.column("email_from", .text)
            t.column("smtp_url", .text)
            t.column("smtp_password", .text)
            t.column("smtp_trust", .text)
            t.column("include_success", .boolean).notNull().defaults(to: false)
            t.column("created_at", .datetime).notNull()
        }
        try db.create(table: "alert_setting") { t in
            t.column("project", .text).primaryKey().references("project", onDelete: .cascade)
            t.column("size_jump_percent", .integer).notNull()
        }
        try db.create(table: "alert_size_baseline") { t in
            t.column("project", .text).notNull().references("project", onDelete: .cascade)
            t.column("branch", .text).notNull()
            t.column("backup_id", .text).notNull()
            t.column("database_bytes", .integer).notNull()
            t.column("alerted", .boolean).notNull().defaults(to: false)
            t.primaryKey(["project", "branch"])
        }
    }
}

extension CatalogTransaction {
    /// The channels of one scope (`project` nil: the instance's), secrets opened.
    package func alertChannels(project: String?) throws -> [AlertChannelRecord] {
        try AlertChannelRecord.filter(Self.scope(project)).order(Column("kind")).fetchAll(db).map(opened)
    }

    /// What an event of `project` is delivered to: the project's channels and the instance's.
    package func alertChannels(forEventOf project: String?) throws -> [AlertChannelRecord] {
        try alertChannels(project: nil) + (project.map { try alertChannels(project: $0) } ?? [])
    }

    /// Sets the scope's channel of `channel.kind`, replacing the one there was.
    package func setAlertChannel(_ channel: AlertChannelRecord) throws -> AlertChannelRecord {
        try removeAlertChannels(project: channel.project, kind: channel.kind)
        var stored = sealed(channel)
        stored.id = nil
        try stored.insert(db)
        var result = channel
        result.id = stored.id
        return result
    }

    /// Removes the scope's channel of `kind` (every channel of the scope when nil); how many went.
    @discardableResult
    package func removeAlertChannels(project: String?, kind: AlertChannelKind?) throws -> Int {
        var request = AlertChannelRecord.filter(Self.scope(project))
        if let kind { request = request.filter(Column("kind") == kind.rawValue) }
        return try request.deleteAll(db)
    }

    /// The project's size-jump threshold in percent, if it set one.
    package func sizeJumpPercent(project: String) throws -> Int? {
        try Int.fetchOne(db, sql: "SELECT size_jump_percent FROM alert_setting WHERE project = ?", arguments: [project])
    }

    package func setSizeJumpPercent(project: String, _ percent: Int?) throws {
        if let percent {
            try db.execute(
                sql: "INSERT INTO alert_setting(project, size_jump_percent) VALUES (?, ?) ON CONFLICT(project) DO UPDATE SET size_jump_percent = excluded.size_jump_percent",
                arguments: [project, percent])
        } else {
            try db.execute(sql: "DELETE FROM alert_setting WHERE project = ?", arguments: [project])
        }
    }

    package func sizeBaseline(project: String, branch: String) throws -> SizeBaselineRecord? {
        try SizeBaselineRecord.fetchOne(db, key: ["project": project, "branch": branch])
    }

    package func save(_ baseline: SizeBaselineRecord) throws { try baseline.save(db) }

    /// The rows of one scope: `project = ?`, or `project IS NULL` for the instance.
    private static func scope(_ project: String?) -> SQLExpression {
        if let project { return Column("project") == project }
        return Column("project") == nil
    }

    /// `channel` as stored: its URL and SMTP password sealed.
    func sealed(_ channel: AlertChannelRecord) -> AlertChannelRecord {
        var channel = channel
        channel.url = channel.url.map { secrets.seal($0, purpose: SealedColumn.alertChannelURL.purpose) }
        channel.smtpPassword = channel.smtpPassword.map { secrets.seal($0, purpose: SealedColumn.smtpPassword.purpose) }
        return channel
    }

    /// `channel` with its secrets in plain text.
    func opened(_ channel: AlertChannelRecord) throws -> AlertChannelRecord {
        var channel = channel
        if let url = channel.url { channel.url = try secrets.open(url, purpose: SealedColumn.alertChannelURL.purpose) }
        if let password = channel.smtpPassword { channel.smtpPassword = try secrets.open(password, purpose: SealedColumn.smtpPassword.purpose) }
        return channel
    }
}
