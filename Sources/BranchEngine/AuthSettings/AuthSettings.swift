package import BranchAuth
import BranchCatalog
import BranchCore
import BranchMail
package import Foundation
import Logging

/// A project's auth settings: who may sign up to its data API, whether emails are confirmed,
/// where mailed links lead and the SMTP server that sends confirmations, magic links, password
/// resets and invitations. Supabase self-hosted keeps these in environment variables; here the
/// owner edits them in the console or with `branch auth set`, and they apply to the next request.
package struct AuthSettings: EnginePart {
    let context: EngineContext

    /// The project's settings, the SMTP password left out.
    package func show(project: String) async throws -> AuthSettingsView {
        AuthSettingsView(try await catalog.read { tx in
            _ = try tx.requireProject(project)
            return try tx.authSettings(project: project)
        })
    }

    /// Applies the fields `change` sets, checked together: confirming emails needs a mail server,
    /// and the mail server needs a sender. Nothing is stored unless all of it is valid.
    package func update(project: String, _ change: AuthSettingsChange) async throws -> AuthSettingsView {
        let stored = try await catalog.write { tx in
            _ = try tx.requireProject(project)
            var settings = try tx.authSettings(project: project)
            try change.apply(to: &settings)
            settings.updatedAt = Date()
            try tx.save(settings)
            return settings
        }
        logger.notice("auth settings changed", metadata: ["project": "\(project)", "fields": "\(change.fieldNames.joined(separator: ","))"])
        return AuthSettingsView(stored)
    }

    /// Sends one message through the project's mail server to `address`; nil when it went, else
    /// why not (the password never in it).
    package func testMail(project: String, to address: String) async throws -> AuthMailTest {
        guard MailMessage.isAddress(address) else {
            throw EngineError.invalidRequest("Send the test to one plain address, like you@example.com.")
        }
        let settings = try await catalog.read { tx in
            _ = try tx.requireProject(project)
            return try tx.authSettings(project: project)
        }
        guard let mailer = AuthMailSender(settings, logger: logger) else { throw Self.noMailServer(project) }
        let started = ContinuousClock.now
        var failure: String?
        do {
            try await mailer.deliver(AuthMail(
                to: address, subject: "Test message from Branch",
                body: "This is a test of project \(project)'s auth mail. Confirmations, magic links, password resets and invitations go out the same way."))
        } catch {
            failure = AlertSender.redacted((error as? SMTPError)?.message ?? "\(error)", password: settings.smtpPassword)
        }
        return AuthMailTest(delivered: failure == nil, error: failure, milliseconds: Int((ContinuousClock.now - started).seconds * 1000))
    }

    /// The policy the data API applies to one auth request of `project`, and where mailed links
    /// start (the project's API URL, else the service's public address).
    func policy(project: String) async throws -> (policy: AuthPolicy, linkOrigin: String) {
        let (settings, providers) = try await catalog.read { tx in (try tx.authSettings(project: project), try tx.authProviders(project: project)) }
        var policy = AuthPolicy(
            allowSignup: settings.allowSignup, confirmEmail: settings.confirmEmail, siteURL: settings.siteURL,
            redirectURLs: AuthSettingsChange.lines(settings.allowedRedirects), otpExpirySeconds: settings.otpExpirySeconds,
            mailsPerHour: settings.mailsPerHour, mailer: AuthMailSender(settings, logger: logger))
        policy.templates = AuthSettingsChange.storedTemplates(settings)
        policy.secureEmailChange = settings.secureEmailChange
        policy.providers = AuthProviders(context: context).enabled(providers)
        return (policy, settings.apiURL ?? configuration.publicURL)
    }

    static func noMailServer(_ project: String) -> EngineError {
        EngineError(
            .mailNotConfigured, "Project '\(project)' has no mail server for its auth mail.",
            hint: "Set one: `branch auth set --project \(project) --smtp smtp://USER@HOST:587 --sender no-reply@example.com --smtp-password-stdin`.")
    }
}

/// The fields an update sets (nil: unchanged). `smtp` "" removes the mail server.
package struct AuthSettingsChange: Sendable {
    package var allowSignup: Bool?
    package var confirmEmail: Bool?
    package var siteURL: String?
    package var redirectURLs: [String]?
    package var otpExpirySeconds: Int?
    package var smtp: String?
    package var smtpPassword: String?
    package var smtpTrust: String?
    package var sender: String?
    /// "" goes back to the service's public address.
    package var apiURL: String?
    package var mailsPerHour: Int?
    /// Per kind (`MailTemplate.kinds`), the wording that replaces the stored one; a template with
    /// neither subject nor body goes back to the default. Kinds left out keep theirs.
    package var templates: [String: MailTemplate]?
    package var secureEmailChange: Bool?

    package init(
        allowSignup: Bool? = nil, confirmEmail: Bool? = nil, siteURL: String? = nil, redirectURLs: [String]? = nil, otpExpirySeconds: Int? = nil,
        smtp: String? = nil, smtpPassword: String? = nil, smtpTrust: String? = nil, sender: String? = nil, apiURL: String? = nil,
        mailsPerHour: Int? = nil, templates: [String: MailTemplate]? = nil, secureEmailChange: Bool? = nil
    ) {
        self.secureEmailChange = secureEmailChange
        self.templates = templates
        self.apiURL = apiURL
        self.mailsPerHour = mailsPerHour
        self.allowSignup = allowSignup
        self.confirmEmail = confirmEmail
        self.siteURL = siteURL
        self.redirectURLs = redirectURLs
        self.otpExpirySeconds = otpExpirySeconds
        self.smtp = smtp
        self.smtpPassword = smtpPassword
        self.smtpTrust = smtpTrust
        self.sender = sender
    }

    /// Mailed codes live between one minute and a day (GoTrue's upper bound).
    static let expiryRange = 60...86_400

    var fieldNames: [String] {
        [
            allowSignup.map { _ in "allow_signup" }, confirmEmail.map { _ in "confirm_email" }, siteURL.map { _ in "site_url" },
            redirectURLs.map { _ in "redirect_urls" }, otpExpirySeconds.map { _ in "otp_expiry" }, smtp.map { _ in "smtp" },
            smtpPassword.map { _ in "smtp_password" }, smtpTrust.map { _ in "smtp_trust" }, sender.map { _ in "sender" },
            apiURL.map { _ in "api_url" }, mailsPerHour.map { _ in "mails_per_hour" }, templates.map { _ in "templates" },
            secureEmailChange.map { _ in "secure_email_change" },
        ].compactMap { $0 }
    }

    /// `settings` with the change applied, or the first reason it cannot be.
    func apply(to settings: inout AuthSettingsRecord) throws {
        if let allowSignup { settings.allowSignup = allowSignup }
        if let siteURL {
            guard Self.isAppURL(siteURL) else {
                throw EngineError.invalidRequest("The site URL must be an absolute URL, like https://app.example.com.", hint: "Links in auth mail lead there.")
            }
            settings.siteURL = siteURL
        }
        if let redirectURLs {
            let entries = redirectURLs.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if let bad = entries.first(where: { !Self.isAppURL($0.replacingOccurrences(of: "*", with: "x")) }) {
                throw EngineError.invalidRequest(
                    "'\(bad)' is not an absolute URL.", hint: "Give URLs like https://app.example.com/** or myapp://callback, one per entry.")
            }
            settings.allowedRedirects = entries.joined(separator: "\n")
        }
        if let otpExpirySeconds {
            guard Self.expiryRange.contains(otpExpirySeconds) else {
                throw EngineError.invalidRequest("Mailed links and codes last between 60 and 86400 seconds.", hint: "For example: --otp-expiry 3600.")
            }
            settings.otpExpirySeconds = otpExpirySeconds
        }
        if let smtp {
            if smtp.isEmpty {
                settings.smtpURL = nil
                settings.smtpPassword = nil
                settings.smtpTrust = nil
            } else {
                let endpoint = try SMTPServerCheck.endpoint(smtp, command: "branch auth set")
                settings.smtpURL = endpoint.url
                if endpoint.user == nil { settings.smtpPassword = nil }
            }
        }
        if let smtpPassword { settings.smtpPassword = smtpPassword.isEmpty ? nil : smtpPassword }
        if let smtpTrust {
            if !smtpTrust.isEmpty { try SMTPServerCheck.requirePEM(smtpTrust) }
            settings.smtpTrust = smtpTrust.isEmpty ? nil : smtpTrust
        }
        if let sender {
            guard sender.isEmpty || MailMessage.isAddress(sender) else {
                throw EngineError.invalidRequest("The sender must be a plain address, like no-reply@example.com.")
            }
            settings.senderEmail = sender.isEmpty ? nil : sender
        }
        if let apiURL {
            let trimmed = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
            guard trimmed.isEmpty || (Self.isAppURL(trimmed) && ["http", "https"].contains(URLComponents(string: trimmed)?.scheme ?? "")
                && (URLComponents(string: trimmed)?.path ?? "").isEmpty && URLComponents(string: trimmed)?.query == nil)
            else {
                throw EngineError.invalidRequest(
                    "The API URL is where browsers reach this service, like https://db.example.com (no path).",
                    hint: "Links in auth mail start with it: /p/PROJECT/auth/v1/verify follows.")
            }
            settings.apiURL = trimmed.isEmpty ? nil : trimmed
        }
        if let mailsPerHour {
            guard (1...100_000).contains(mailsPerHour) else {
                throw EngineError.invalidRequest("The hourly mail limit is between 1 and 100000.", hint: "For example: --mails-per-hour 100.")
            }
            settings.mailsPerHour = mailsPerHour
        }
        if let templates {
            var stored = Self.storedTemplates(settings)
            for (kind, template) in templates.sorted(by: { $0.key < $1.key }) {
                // Blank fields are the default: a form sends every field, filled or not.
                let cleaned = MailTemplate(
                    subject: template.subject.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 },
                    body: template.body.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 })
                if let problem = MailTemplate.problem(cleaned, kind: kind) {
                    throw EngineError.invalidRequest(problem, hint: "Variables: " + MailTemplate.variables.map { "{{ .\($0) }}" }.joined(separator: ", ") + ".")
                }
                stored[kind] = cleaned == MailTemplate() ? nil : cleaned
            }
            settings.mailTemplates = stored.isEmpty ? nil : (try? Self.templateEncoder.encode(stored)).map { String(decoding: $0, as: UTF8.self) }
        }
        if let confirmEmail { settings.confirmEmail = confirmEmail }
        if let secureEmailChange { settings.secureEmailChange = secureEmailChange }
        if let url = settings.smtpURL {
            if let endpoint = try? SMTPEndpoint(parsing: url) {
                try SMTPServerCheck.requirePassword(endpoint, password: settings.smtpPassword, command: "branch auth set")
            }
            if settings.senderEmail == nil {
                throw EngineError.invalidRequest("Auth mail needs a sender address.", hint: "Add --sender no-reply@example.com.")
            }
        }
        if settings.confirmEmail, settings.smtpURL == nil {
            throw EngineError(
                .mailNotConfigured, "Confirming emails needs a mail server: without one, nobody who signs up could sign in.",
                hint: "Set the SMTP server and sender first (--smtp, --sender), or leave email confirmation off.")
        }
    }

    private static var templateEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    /// The stored templates of `settings`, by kind.
    static func storedTemplates(_ settings: AuthSettingsRecord) -> [String: MailTemplate] {
        settings.mailTemplates.flatMap { try? JSONDecoder().decode([String: MailTemplate].self, from: Data($0.utf8)) } ?? [:]
    }

    /// An absolute URL with a scheme and something after it (`https://host/…`, `myapp://callback`).
    static func isAppURL(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme, !scheme.isEmpty, text.count <= 2048 else { return false }
        if ["http", "https"].contains(scheme.lowercased()) { return !(components.host ?? "").isEmpty && components.user == nil }
        return text.count > scheme.count + 3
    }

    static func lines(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
    }
}

/// The settings as shown: the password only as whether one is set.
package struct AuthSettingsView: Sendable, Equatable {
    package var project: String
    package var allowSignup: Bool
    package var confirmEmail: Bool
    package var siteURL: String
    package var redirectURLs: [String]
    package var otpExpirySeconds: Int
    package var smtp: String?
    package var smtpHasPassword: Bool
    package var smtpHasTrust: Bool
    package var sender: String?
    package var apiURL: String?
    package var mailsPerHour: Int
    /// The project's own wording, by kind; kinds not in it use the defaults.
    package var templates: [String: MailTemplate]
    package var secureEmailChange: Bool
    package var updatedAt: Date?

    init(_ record: AuthSettingsRecord) {
        secureEmailChange = record.secureEmailChange
        templates = AuthSettingsChange.storedTemplates(record)
        project = record.project
        allowSignup = record.allowSignup
        confirmEmail = record.confirmEmail
        siteURL = record.siteURL
        redirectURLs = AuthSettingsChange.lines(record.allowedRedirects)
        otpExpirySeconds = record.otpExpirySeconds
        smtp = record.smtpURL
        smtpHasPassword = record.smtpPassword != nil
        smtpHasTrust = record.smtpTrust != nil
        sender = record.senderEmail
        apiURL = record.apiURL
        mailsPerHour = record.mailsPerHour
        updatedAt = record.updatedAt
    }
}

/// How a test message went.
package struct AuthMailTest: Sendable {
    package var delivered: Bool
    package var error: String?
    package var milliseconds: Int
}

/// The auth module's mail through the project's SMTP server (15 s per message: a request waits for it). A failure is
/// logged here with the server's words; the client only learns that sending failed.
struct AuthMailSender: AuthMailer {
    let endpoint: SMTPEndpoint
    let password: String?
    let trust: String?
    let sender: String
    let logger: Logger

    init?(_ settings: AuthSettingsRecord, logger: Logger) {
        guard let url = settings.smtpURL, let endpoint = try? SMTPEndpoint(parsing: url), let sender = settings.senderEmail else { return nil }
        self.endpoint = endpoint
        password = settings.smtpPassword
        trust = settings.smtpTrust
        self.sender = sender
        self.logger = logger
    }

    func send(_ mail: AuthMail) async throws {
        do {
            try await deliver(mail)
        } catch {
            logger.warning("auth mail not sent", metadata: ["server": "\(endpoint.url)", "error": "\(AlertSender.redacted("\(error)", password: password))"])
            throw error
        }
    }

    func deliver(_ mail: AuthMail) async throws {
        let client = SMTPClient(endpoint: endpoint, password: password, trustedCertificatesPEM: trust, timeout: .seconds(15), clientName: AlertSender.clientName)
        try await client.send(MailMessage(from: sender, to: [mail.to], subject: mail.subject, body: mail.body, html: mail.html))
    }
}
