import Foundation

/// Where and how to reach the mail server, from `smtp://user@host:587` (STARTTLS, required),
/// `smtps://user@host:465` (TLS from the first byte) or `smtp+plain://user@127.0.0.1:1025`
/// (no TLS: refused for any host but a loopback address, for a test server on this machine).
/// The password never appears in the URL: it is stored apart, sealed.
package struct SMTPEndpoint: Sendable, Equatable {
    package enum Security: String, Sendable, Equatable {
        case startTLS = "smtp"
        case tls = "smtps"
        case plainLoopback = "smtp+plain"
    }

    package var security: Security
    package var host: String
    package var port: Int
    package var user: String?

    package init(security: Security, host: String, port: Int, user: String?) {
        self.security = security
        self.host = host
        self.port = port
        self.user = user
    }

    /// Parses and checks an SMTP URL. A password in it is refused (it would be stored in clear).
    package init(parsing text: String) throws(SMTPError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let security = Security(rawValue: scheme)
        else {
            throw SMTPError(.invalidConfiguration, "The SMTP server must be a URL like smtp://user@mail.example.com:587 (STARTTLS) or smtps://user@mail.example.com:465 (TLS).")
        }
        guard let host = components.host, !host.isEmpty else { throw SMTPError(.invalidConfiguration, "The SMTP URL names no host.") }
        guard components.password == nil else {
            throw SMTPError(.invalidConfiguration, "The SMTP URL must not hold the password: give it on standard input (--smtp-password-stdin), where it is stored sealed.")
        }
        guard (components.path.isEmpty || components.path == "/"), components.query == nil else {
            throw SMTPError(.invalidConfiguration, "The SMTP URL takes no path or query: smtp://user@host:port.")
        }
        if security == .plainLoopback, !Self.isLoopback(host) {
            throw SMTPError(.insecure, "smtp+plain:// (no TLS) is only for a test server on this machine (127.0.0.1, ::1, localhost); use smtp:// (STARTTLS) or smtps://.")
        }
        let port = components.port ?? (security == .tls ? 465 : 587)
        guard (1...65535).contains(port) else { throw SMTPError(.invalidConfiguration, "The SMTP port must be between 1 and 65535.") }
        let user = components.user?.removingPercentEncoding ?? components.user
        self.init(security: security, host: host, port: port, user: (user?.isEmpty ?? true) ? nil : user)
    }

    /// The URL again (never with a password).
    package var url: String {
        var components = URLComponents()
        components.scheme = security.rawValue
        components.host = host.contains(":") ? "[\(host)]" : host
        components.port = port
        components.user = user
        return components.string ?? "\(security.rawValue)://\(host):\(port)"
    }

    package static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        return bare == "localhost" || bare == "::1" || bare.hasPrefix("127.")
    }
}
