package import BranchMail
package import Foundation

/// What each kind of channel receives for one event. Pure: the unit tests read the documents.
package enum AlertPayloads {
    /// The generic webhook's JSON: every field of the event, plus the service that raised it.
    package static func webhook(_ event: AlertEvent, service: String) -> Data {
        var document: [String: Any] = [
            "event": event.kind.rawValue, "severity": event.severity.rawValue, "title": event.title, "detail": event.detail,
            "at": timestamp(event.at), "service": service,
        ]
        if let project = event.project { document["project"] = project }
        if let branch = event.branch { document["branch"] = branch }
        return json(document)
    }

    /// Slack's incoming-webhook format: `text` (the notification and the fallback) and blocks
    /// with the title, the detail and a context line.
    package static func slack(_ event: AlertEvent, service: String) -> Data {
        let mark = switch event.severity {
        case .critical: ":red_circle:"
        case .warning: ":warning:"
        case .info: ":white_check_mark:"
        }
        let context = [event.kind.rawValue, scope(event), service, timestamp(event.at)].joined(separator: " · ")
        return json([
            "text": "\(mark) \(event.title)",
            "blocks": [
                ["type": "section", "text": ["type": "mrkdwn", "text": "\(mark) *\(slackEscaped(event.title))*\n\(slackEscaped(event.detail))"]],
                ["type": "context", "elements": [["type": "mrkdwn", "text": slackEscaped(context)]]],
            ],
        ])
    }

    /// The e-mail: subject `[Branch <service>] <severity>: <title>`, and a plain-text body.
    package static func email(_ event: AlertEvent, service: String, from: String, to: [String]) -> MailMessage {
        let body = """
            \(event.title)

            \(event.detail)

            Event:    \(event.kind.rawValue) (\(event.severity.rawValue))
            Scope:    \(scope(event))
            Service:  \(service)
            At:       \(timestamp(event.at))

            -- 
            Sent by Branch's alerts. Change them with `branch alerts`.
            """
        return MailMessage(
            from: from, to: to, subject: "[Branch \(service)] \(event.severity.rawValue.capitalized): \(event.title)", body: body, date: event.at)
    }

    /// `project/branch`, `project`, or `instance`.
    static func scope(_ event: AlertEvent) -> String {
        guard let project = event.project else { return "instance" }
        return event.branch.map { "\(project)/\($0)" } ?? project
    }

    /// Slack's three control characters escaped, as its formatting rules ask.
    static func slackEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    private static func json(_ object: [String: Any]) -> Data {
        // Only strings, arrays and dictionaries of them: serialization cannot fail.
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }
}
