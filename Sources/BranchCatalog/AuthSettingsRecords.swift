package import Foundation
package import GRDB

/// A project's data API auth settings (the console's Auth settings page, `branch auth set`): who
/// may sign up, whether emails are confirmed, where mailed links lead, and the SMTP server that
/// sends them. A project without a row has the defaults (sign-ups open, no confirmation, no mail).
/// The SMTP password is stored sealed.
package struct AuthSettingsRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    package static let databaseTableName = "auth_setting"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    package var project: String
    package var allowSignup: Bool
    package var confirmEmail: Bool
    package var siteURL: String
    /// The redirect allow list, one URL or glob per line.
    package var allowedRedirects: String
    package var otpExpirySeconds: Int
    /// `smtp://user@host:587`, `smtps://…` or `smtp+plain://…` (loopback only); nil: no mail server.
    package var smtpURL: String?
    package var smtpPassword: String?
    /// PEM certificates trusted for this server besides the system's (a private CA).
    package var smtpTrust: String?
    /// The From address.
    package var senderEmail: String?
    /// Where apps and browsers reach the service (`https://db.example.com`), for the links in auth
    /// mail (GoTrue's API_EXTERNAL_URL); nil: the service's own public address.
    package var apiURL: String?
    /// The project's mails an hour, at most.
    package var mailsPerHour: Int
    /// The project's own mail wording: JSON of kind → `{"subject", "body"}` (nil: the defaults).
    package var mailTemplates: String?
    /// Whether an email change is confirmed at the current address too (GoTrue's
    /// MAILER_SECURE_EMAIL_CHANGE_ENABLED, on by default as in Supabase).
    package var secureEmailChange: Bool
    package var updatedAt: Date

    package init(
        project: String, allowSignup: Bool = true, confirmEmail: Bool = false, siteURL: String = "http://localhost:3000", allowedRedirects: String = "",
        otpExpirySeconds: Int = 3600, smtpURL: String? = nil, smtpPassword: String? = nil, smtpTrust: String? = nil, senderEmail: String? = nil,
        apiURL: String? = nil, mailsPerHour: Int = 30, mailTemplates: String? = nil, secureEmailChange: Bool = true, updatedAt: Date = Date()
    ) {
        self.secureEmailChange = secureEmailChange
        self.mailTemplates = mailTemplates
        self.apiURL = apiURL
        self.mailsPerHour = mailsPerHour
        self.project = project
        self.allowSignup = allowSignup
        self.confirmEmail = confirmEmail
        self.siteURL = siteURL
        self.allowedRedirects = allowedRedirects
        self.otpExpirySeconds = otpExpirySeconds
        self.smtpURL = smtpURL
        self.smtpPassword = smtpPassword
        self.smtpTrust = smtpTrust
        self.senderEmail = senderEmail
        self.updatedAt = updatedAt
    }

}

enum AuthSettingsTable {
    /// v14: auth settings per project (gone with it).
    static func migrate(_ db: Database) throws {
        try db.create(table: "auth_setting") { t in
            t.column("project", .text).primaryKey().references("project", onDelete: .cascade)
            t.column("allow_signup", .boolean).notNull()
            t.column("confirm_email", .boolean).notNull()
            t.column("site_url", .text).notNull()
            t.column("allowed_redirects", .text).notNull()
            t.column("otp_expiry_seconds", .integer).notNull()
            t.column("smtp_url", .text)
            t.column("smtp_password", .text)
            t.column("smtp_trust", .text)
            t.column("sender_email", .text)
            t.column("updated_at", .datetime).notNull()
        }
    }

    /// v15: the address links in auth mail start with, and the hourly mail limit.
    static func addLinksAndLimits(_ db: Database) throws {
        try db.alter(table: "auth_setting") { t in
            t.add(column: "api_url", .text)
            t.add(column: "mails_per_hour", .integer).notNull().defaults(to: 30)
        }
    }

    /// v16: the project's own wording of its auth mails.
    static func addMailTemplates(_ db: Database) throws {
        try db.alter(table: "auth_setting") { t in
            t.add(column: "mail_templates", .text)
        }
    }

    /// v17: whether email changes are confirmed at the current address too.
    static func addSecureEmailChange(_ db: Database) throws {
        try db.alter(table: "auth_setting") { t in
            t.add(column: "secure_email_change", .boolean).notNull().defaults(to: true)
        }
    }
}

extension CatalogTransaction {
    /// The project's auth settings (its password opened), or the defaults when it never set any.
    package func authSettings(project: String) throws -> AuthSettingsRecord {
        guard var record = try AuthSettingsRecord.fetchOne(db, key: project) else { return AuthSettingsRecord(project: project) }
        if let password = record.smtpPassword { record.smtpPassword = try secrets.open(password, purpose: SealedColumn.authSMTPPassword.purpose) }
        return record
    }

    package func save(_ settings: AuthSettingsRecord) throws {
        var stored = settings
        stored.smtpPassword = settings.smtpPassword.map { secrets.seal($0, purpose: SealedColumn.authSMTPPassword.purpose) }
        try stored.save(db)
    }
}

/// One sign-in provider of a project's data API (`branch auth provider set github …`): its OAuth
/// client and, for a self-hosted provider, its address. The client secret is stored sealed.
package struct AuthProviderRecord: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    package static let databaseTableName = "auth_provider"
    package static let databaseColumnDecodingStrategy = CatalogColumns.decoding
    package static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    package var project: String
    /// GoTrue's name: github, gitlab, google, keycloak.
    package var provider: String
    package var enabled: Bool
    package var clientID: String
    package var clientSecret: String
    /// The provider's own address (GitHub Enterprise, a self-hosted GitLab, a Keycloak realm); nil: its public service.
    package var url: String?
    package var updatedAt: Date

    package init(project: String, provider: String, enabled: Bool, clientID: String, clientSecret: String, url: String?, updatedAt: Date = Date()) {
        self.project = project
        self.provider = provider
        self.enabled = enabled
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.url = url
        self.updatedAt = updatedAt
    }
}

enum AuthProviderTable {
    /// v20: sign-in providers per project (gone with it).
    static func migrate(_ db: Database) throws {
        try db.create(table: "auth_provider") { t in
            t.column("project", .text).notNull().references("project", onDelete: .cascade)
            t.column("provider", .text).notNull()
            t.column("enabled", .boolean).notNull()
            t.column("client_id", .text).notNull()
            t.column("client_secret", .text).notNull()
            t.column("url", .text)
            t.column("updated_at", .datetime).notNull()
            t.primaryKey(["project", "provider"])
        }
    }
}

extension CatalogTransaction {
    /// The project's providers, their secrets opened, by name.
    package func authProviders(project: String) throws -> [AuthProviderRecord] {
        try AuthProviderRecord.filter(Column("project") == project).order(Column("provider")).fetchAll(db).map { record in
            var opened = record
            opened.clientSecret = try secrets.open(record.clientSecret, purpose: SealedColumn.authProviderSecret.purpose)
            return opened
        }
    }

    package func save(_ provider: AuthProviderRecord) throws {
        var stored = provider
        stored.clientSecret = secrets.seal(provider.clientSecret, purpose: SealedColumn.authProviderSecret.purpose)
        try stored.save(db)
    }

    /// Removes the provider; false when the project had none of that name.
    package func removeAuthProvider(project: String, provider: String) throws -> Bool {
        try AuthProviderRecord.deleteOne(db, key: ["project": project, "provider": provider])
    }
}
