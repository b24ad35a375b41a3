import Foundation

/// How secrets are shown once stored: enough to recognise which one is set, never enough to use it.
package enum Redaction {
    /// A URL whose path or query may carry a credential (a Slack or Discord webhook token, a signed
    /// query): its scheme and host, then `/…`. `https://hooks.slack.com/services/T0/B0/XYZ` shows as
    /// `https://hooks.slack.com/…`. Text that is not such a URL shows as `…`.
    package static func url(_ text: String) -> String {
        guard let components = URLComponents(string: text), let scheme = components.scheme, let host = components.host, !host.isEmpty
        else { return "…" }
        let port = components.port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(host)\(port)/…"
    }
}
