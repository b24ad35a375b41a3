import BranchCore
import GRDB

/// A catalog column whose values are stored sealed by `SecretBox`: the table, the column, which
/// rows (an SQL condition; nil for all) and the purpose the values are bound to.
struct SealedColumn: Sendable, Hashable {
    let table: String
    let column: String
    let rows: String?
    let purpose: String

    init(table: String, column: String, rows: String? = nil) {
        self.table = table
        self.column = column
        self.rows = rows
        purpose = "\(table).\(column)"
    }

    /// Project role passwords. (Their SCRAM verifiers stay plain: PgBouncer's auth file needs
    /// them, and a verifier does not give the password away.)
    static let projectPassword = SealedColumn(table: "project", column: "password")
    /// Project JWT secrets, which sign the data API's keys and tokens.
    static let jwtSecret = SealedColumn(table: "project", column: "jwt_secret")
    /// Backup schedules' webhook URLs (a Slack or other webhook URL is a bearer credential).
    static let webhookURL = SealedColumn(table: "schedule", column: "webhook_url")
    /// Alert channels' webhook and Slack URLs, and their SMTP passwords.
    static let alertChannelURL = SealedColumn(table: "alert_channel", column: "url")
    static let smtpPassword = SealedColumn(table: "alert_channel", column: "smtp_password")
    /// The SMTP password of a project's auth mail.
    static let authSMTPPassword = SealedColumn(table: "auth_setting", column: "smtp_password")
    /// The OAuth client secrets of a project's sign-in providers.
    static let authProviderSecret = SealedColumn(table: "auth_provider", column: "client_secret")
    /// A mirror's source URL, which carries the source's password.
    static let mirrorSource = SealedColumn(table: "mirror", column: "source_url")
    /// Settings whose values are secrets.
    static let secretSettings = SealedColumn(
        table: "setting", column: "value", rows: "key IN (\(Catalog.secretSettings.sorted().map { "'\($0)'" }.joined(separator: ", ")))")

    /// Every sealed column; the start-up pass seals what is plain in each.
    /// New secret columns are added here (and read and written through `SecretBox`).
    static let all: [SealedColumn] = [projectPassword, jwtSecret, webhookURL, secretSettings, alertChannelURL, smtpPassword, mirrorSource, authSMTPPassword, authProviderSecret]
}

extension Catalog {
    /// Settings whose values are sealed: `setting` and `setSetting` seal and open them.
    package static let secretSettings: Set<String> = ["pooler.admin_password", "backup.keys.retired"]

    /// The fingerprint of the master key the catalog's secrets are sealed with.
    static let masterKeyIDSetting = "secrets.master_key_id"

    /// The start-up pass: checks the master key against the one the catalog was sealed with,
    /// seals every plain value of every sealed column in place and checks that every sealed one
    /// opens. Idempotent; one transaction (the caller's). Returns how many values it sealed.
    static func sealPlainSecrets(_ db: Database, box: SecretBox) throws -> Int {
        let stored = try String.fetchOne(db, sql: "SELECT value FROM setting WHERE key = ?", arguments: [masterKeyIDSetting])
        if let stored, stored != box.keyID {
            throw CatalogError(
                .masterKeyMismatch,
                "The catalog's secrets are sealed with master key \(stored), but the master key file holds key \(box.keyID).",
                hint: SecretBox.mismatchHint)
        }
        var sealed = 0
        for column in SealedColumn.all {
            let condition = ["\(column.column) IS NOT NULL", column.rows].compactMap { $0 }.joined(separator: " AND ")
            let rows = try Row.fetchAll(db, sql: "SELECT rowid, \(column.column) FROM \(column.table) WHERE \(condition)")
            for row in rows {
                let rowID: Int64 = row[0]
                let value: String = row[1]
                if SecretBox.isSealed(value) {
                    _ = try box.open(value, purpose: column.purpose)
                } else {
                    try db.execute(
                        sql: "UPDATE \(column.table) SET \(column.column) = ? WHERE rowid = ?",
                        arguments: [box.seal(value, purpose: column.purpose), rowID])
                    sealed += 1
                }
            }
        }
        if stored == nil {
            try db.execute(sql: "INSERT INTO setting(key, value) VALUES (?, ?)", arguments: [masterKeyIDSetting, box.keyID])
        }
        return sealed
    }
}

extension CatalogTransaction {
    /// `project` as stored: its password sealed.
    func sealed(_ project: ProjectRecord) -> ProjectRecord {
        var project = project
        project.password = secrets.seal(project.password, purpose: SealedColumn.projectPassword.purpose)
        return project
    }

    /// `project` as the rest of Branch sees it: its password in plain text.
    func opened(_ project: ProjectRecord) throws -> ProjectRecord {
        var project = project
        project.password = try secrets.open(project.password, purpose: SealedColumn.projectPassword.purpose)
        return project
    }

    /// `schedule` as stored: its webhook URL sealed.
    func sealed(_ schedule: ScheduleRecord) -> ScheduleRecord {
        var schedule = schedule
        schedule.webhookURL = schedule.webhookURL.map { secrets.seal($0, purpose: SealedColumn.webhookURL.purpose) }
        return schedule
    }

    /// `schedule` with its webhook URL in plain text.
    func opened(_ schedule: ScheduleRecord) throws -> ScheduleRecord {
        var schedule = schedule
        if let url = schedule.webhookURL { schedule.webhookURL = try secrets.open(url, purpose: SealedColumn.webhookURL.purpose) }
        return schedule
    }
}
