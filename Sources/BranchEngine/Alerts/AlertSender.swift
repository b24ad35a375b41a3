import BranchBackup
import BranchCatalog
import BranchCore
import BranchMail
import Foundation

/// One delivery attempt of one event to one channel, with its timeouts (10 s for HTTP, 30 s for
/// SMTP). Returns nil when delivered, else why not, redacted.
struct AlertSender: Sendable {
    /// The service's name in messages (its public host).
    let service: String

    func send(_ event: AlertEvent, to channel: AlertChannelRecord) async -> String? {
        switch channel.kind {
        case .webhook, .slack:
            guard let url = channel.url else { return "the channel has no URL" }
            let body = channel.kind == .slack ? AlertPayloads.slack(event, service: service) : AlertPayloads.webhook(event, service: service)
            return await Webhook.post(body, to: url)
        case .email:
            guard let smtp = channel.smtpURL, let from = channel.emailFrom, let to = channel.emailTo else { return "the channel is incomplete" }
            do {
                let client = SMTPClient(
                    endpoint: try SMTPEndpoint(parsing: smtp), password: channel.smtpPassword, trustedCertificatesPEM: channel.smtpTrust,
                    timeout: .seconds(30), clientName: Self.clientName)
                let recipients = to.split(separator: ",").map(String.init)
                try await client.send(AlertPayloads.email(event, service: service, from: from, to: recipients))
                return nil
            } catch {
                return Self.redacted(error.message, password: channel.smtpPassword)
            }
        }
    }

    /// The name this machine gives in EHLO.
    static var clientName: String {
        let name = ProcessInfo.processInfo.hostName
        return name.isEmpty || name.contains(" ") ? "branch.localhost" : name
    }

    /// `message` without the password in it, should a server have echoed it back.
    static func redacted(_ message: String, password: String?) -> String {
        guard let password, !password.isEmpty else { return message }
        return message.replacingOccurrences(of: password, with: "…")
    }
}
