/// Where and as whom to connect; renders a libpq conninfo string or a `postgres://` URL.
package struct ConnectionInfo: Sendable, Hashable {
    /// A host name, an IP address, or a Unix socket directory (starts with `/`).
    package var host: String
    package var port: Int
    package var user: String
    package var database: String
    package var password: String?
    package var connectTimeout: Int = 5
    package var applicationName: String = "branch"
    /// libpq's `sslmode` (`require` for the pooled endpoint, which refuses plain TCP); nil leaves
    /// libpq's default.
    package var sslMode: String?

    package init(host: String, port: Int, user: String, database: String, password: String? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.password = password
    }

    /// `key='value'` pairs for PQconnectdb, each value escaped.
    package var conninfo: String {
        var pairs = [
            ("host", host), ("port", String(port)), ("user", user), ("dbname", database),
            ("connect_timeout", String(connectTimeout)), ("application_name", applicationName),
        ]
        if let password { pairs.append(("password", password)) }
        if let sslMode { pairs.append(("sslmode", sslMode)) }
        return pairs.map { key, value in
            let escaped = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
            return "\(key)='\(escaped)'"
        }.joined(separator: " ")
    }

    /// `postgres://user:password@host:port/database[?sslmode=…]`, percent-encoded, for TCP hosts.
    package var url: String {
        let credentials = password.map { "\(Self.percentEncoded(user)):\(Self.percentEncoded($0))" } ?? Self.percentEncoded(user)
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let query = sslMode.map { "?sslmode=\(Self.percentEncoded($0))" } ?? ""
        return "postgres://\(credentials)@\(hostPart):\(port)/\(Self.percentEncoded(database))\(query)"
    }

    /// The URL with the password replaced by `****`, for logs and messages.
    package var redactedURL: String {
        var copy = self
        if copy.password != nil { copy.password = "****" }
        return copy.url
    }

    static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            let isUnreserved = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            if isUnreserved {
                result.append(Character(Unicode.Scalar(byte)))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }
}

/// Interpolated, printed or dumped, a connection shows its redacted URL: never the password
/// (`conninfo` and `url` still carry it, for connecting).
extension ConnectionInfo: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    package var description: String { redactedURL }

    package var debugDescription: String { "ConnectionInfo(\(redactedURL))" }

    package var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "host": host, "port": port, "user": user, "database": database,
                "password": password == nil ? "nil" : "****",
                "connectTimeout": connectTimeout, "applicationName": applicationName, "sslMode": sslMode ?? "nil",
            ],
            displayStyle: .struct)
    }
}
