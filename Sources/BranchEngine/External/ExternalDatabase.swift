import BranchCore
package import BranchPostgres
import Foundation

/// A database that lives outside Branch (an import's source, a push's target), named by the
/// user with a `postgres://` URL. Only TCP hosts are accepted: a Unix socket would reach this
/// machine's own servers, where local connections are trusted.
package struct ExternalDatabase: Sendable {
    package let connection: ConnectionInfo

    /// The URL without its password, for messages, logs and the catalog's display.
    package var redactedURL: String { connection.redactedURL }

    package init(url text: String) throws(EngineError) {
        func invalid(_ why: String) -> EngineError {
            EngineError(.invalidDatabaseURL, "'\(Self.redacting(text))' is not a usable database URL: \(why).",
                        hint: "Give postgres://USER:PASSWORD@HOST:PORT/DATABASE (add ?sslmode=require for TLS).")
        }
        guard let components = URLComponents(string: text.trimmingCharacters(in: .whitespaces)) else { throw invalid("it does not parse") }
        guard let scheme = components.scheme?.lowercased(), ["postgres", "postgresql"].contains(scheme) else {
            throw invalid("the scheme must be postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else { throw invalid("it names no host") }
        if host.hasPrefix("/") || host.hasPrefix("%2F") || host.hasPrefix("%2f") { throw invalid("Unix sockets are refused") }
        let database = String(components.percentEncodedPath.dropFirst()).removingPercentEncoding ?? ""
        guard !database.isEmpty, !database.contains("/") else { throw invalid("it names no database (the path after the host)") }
        guard let user = components.user, !user.isEmpty else { throw invalid("it names no user") }
        var info = ConnectionInfo(host: host, port: components.port ?? 5432, user: user, database: database, password: components.password)
        info.connectTimeout = 10
        info.applicationName = "branch-external"
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                let modes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
                guard let mode = item.value, modes.contains(mode) else { throw invalid("sslmode must be one of \(modes.joined(separator: ", "))") }
                info.sslMode = mode
            case "connect_timeout":
                guard let seconds = item.value.flatMap(Int.init), (1...120).contains(seconds) else { throw invalid("connect_timeout must be 1 to 120 seconds") }
                info.connectTimeout = seconds
            default:
                // host=, hostaddr=, passfile=, service= and the like could redirect the connection.
                throw invalid("the parameter '\(item.name)' is not supported (only sslmode and connect_timeout are)")
            }
        }
        connection = info
    }

    /// Connects, turning libpq's failures into errors that say whose fault they are.
    package func connect(timeout: Duration? = nil) async throws(EngineError) -> PGConnection {
        do {
            return try await PGConnection.connect(connection, timeout: timeout)
        } catch {
            throw Self.explain(error, redactedURL: redactedURL)
        }
    }

    static func explain(_ error: PostgresError, redactedURL: String) -> EngineError {
        let text = error.message
        let lower = text.lowercased()
        if lower.contains("password authentication failed") || lower.contains("no password supplied")
            || lower.contains("authentication failed") || lower.contains("no pg_hba.conf entry") || lower.contains("role \"") && lower.contains("does not exist") {
            return EngineError(.externalDatabaseAuthFailed, "\(redactedURL) refused the sign-in: \(lastLine(text))",
                               hint: "Check the user and password in the URL (percent-encode special characters).")
        }
        if lower.contains("database \"") && lower.contains("does not exist") {
            return EngineError(.externalDatabaseAuthFailed, "\(redactedURL): \(lastLine(text))", hint: "Check the database name in the URL.")
        }
        return EngineError(.externalDatabaseUnreachable, "Could not reach \(redactedURL): \(lastLine(text))",
                           hint: "Check the host and port, and that this server may connect to it (firewall, listen_addresses, pg_hba.conf).")
    }

    private static func lastLine(_ text: String) -> String {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return lines.last.map { $0.replacingOccurrences(of: "FATAL:  ", with: "") } ?? text
    }

    /// `text` with anything between `://user:` and `@` masked, for messages about a URL that did not parse.
    static func redacting(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text.range(of: "@", range: scheme.upperBound..<text.endIndex),
              let colon = text.range(of: ":", range: scheme.upperBound..<at.lowerBound) else { return text }
        return text.replacingCharacters(in: colon.upperBound..<at.lowerBound, with: "****")
    }
}
