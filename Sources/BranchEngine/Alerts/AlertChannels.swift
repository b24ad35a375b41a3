package import BranchCatalog
import BranchCore
import BranchMail
package import Foundation

/// A channel as asked for by `branch alerts set` (one kind at a time).
package struct AlertChannelRequest: Sendable {
    package var kind: AlertChannelKind
    /// Webhook or Slack: the URL.
    package var url: String?
    /// E-mail: recipients, sender, the server (`smtp://user@host:port`), its password and PEM
    /// certificates to trust instead of the system's.
    package var emailTo: [String]
    package var emailFrom: String?
    package var smtp: String?
    package var smtpPassword: String?
    package var smtpTrust: String?
    package var includeSuccess: Bool

    package init(
        kind: AlertChannelKind, url: String? = nil, emailTo: [String] = [], emailFrom: String? = nil, smtp: String? = nil,
        smtpPassword: String? = nil, smtpTrust: String? = nil, includeSuccess: Bool = false
    ) {
        self.kind = kind
        self.url = url
        self.emailTo = emailTo
        self.emailFrom = emailFrom
        self.smtp = smtp
        self.smtpPassword = smtpPassword
        self.smtpTrust = smtpTrust
        self.includeSuccess = includeSuccess
    }

    /// The record to store, or why the request cannot work.
    func record(project: String?) throws -> AlertChannelRecord {
        switch kind {
        case .webhook, .slack:
            guard let url, let parsed = URLComponents(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""),
                !(parsed.host ?? "").isEmpty
            else {
                throw EngineError.invalidRequest("The \(kind.rawValue) channel needs an http:// or https:// URL.", hint: "For example: --\(kind.rawValue) https://hooks.example.com/…")
            }
            return AlertChannelRecord(project: project, kind: kind, url: url, includeSuccess: includeSuccess)
        case .email:
            let recipients = emailTo.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !recipients.isEmpty, recipients.allSatisfy(MailMessage.isAddress) else {
                throw EngineError.invalidRequest("The e-mail channel needs one or more plain addresses to send to.", hint: "For example: --email ops@example.com --smtp smtp://alerts@mail.example.com:587")
            }
            guard let smtp else {
                throw EngineError.invalidRequest("The e-mail channel needs the SMTP server.", hint: "Add --smtp smtp://USER@HOST:587 (STARTTLS) or smtps://USER@HOST:465, and --smtp-password-stdin.")
            }
            let endpoint = try SMTPServerCheck.endpoint(smtp, command: "branch alerts set")
            try SMTPServerCheck.requirePassword(endpoint, password: smtpPassword, command: "branch alerts set")
            if let trust = smtpTrust { try SMTPServerCheck.requirePEM(trust) }
            let sender = emailFrom ?? endpoint.user.flatMap { MailMessage.isAddress($0) ? $0 : nil }
            guard let sender, MailMessage.isAddress(sender) else {
                throw EngineError.invalidRequest("The e-mail channel needs a sender address.", hint: "Add --from alerts@example.com.")
            }
            return AlertChannelRecord(
                project: project, kind: .email, emailTo: recipients.joined(separator: ","), emailFrom: sender, smtpURL: endpoint.url,
                smtpPassword: endpoint.user == nil ? nil : smtpPassword, smtpTrust: smtpTrust, includeSuccess: includeSuccess)
        }
    }
}

/// A channel as shown: where it delivers, its secrets redacted.
package struct AlertChannelView: Sendable, Equatable {
    package var kind: AlertChannelKind
    package var project: String?
    /// `https://hooks.slack.com/…` for a URL; `ops@example.com via smtp://alerts@mail.example.com:587` for e-mail.
    package var target: String
    package var includeSuccess: Bool
    package var createdAt: Date

    init(_ record: AlertChannelRecord) {
        kind = record.kind
        project = record.project
        switch record.kind {
        case .webhook, .slack: target = Redaction.url(record.url ?? "")
        case .email: target = "\(record.emailTo ?? "") via \(record.smtpURL ?? "?")"
        }
        includeSuccess = record.includeSuccess
        createdAt = record.createdAt
    }
}

/// The alert settings of one scope.
package struct AlertSettingsView: Sendable {
    package var project: String?
    package var channels: [AlertChannelView]
    /// Projects only: the share of growth since the last backup that alerts, and whether it is the default.
    package var sizeJumpPercent: Int?
    package var sizeJumpIsDefault: Bool
}

/// The outcome of a test message on one channel.
package struct AlertTestResult: Sendable {
    package var channel: AlertChannelView
    package var delivered: Bool
    /// Why not (redacted: never the URL's path nor a password).
    package var error: String?
    package var milliseconds: Int
}
