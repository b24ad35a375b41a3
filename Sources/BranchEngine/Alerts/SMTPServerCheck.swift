import BranchCore
import BranchMail

/// The checks an SMTP server setting gets wherever one is set (an alert channel, a project's auth
/// mail), with the same messages; `command` names the CLI command whose help the hints point to.
enum SMTPServerCheck {
    /// `url` parsed (`smtp://USER@HOST:587`, `smtps://…`, `smtp+plain://…`), or `invalid_request`.
    static func endpoint(_ url: String, command: String) throws -> SMTPEndpoint {
        do {
            return try SMTPEndpoint(parsing: url)
        } catch {
            throw EngineError.invalidRequest(error.message, hint: "See `\(command) --help`.")
        }
    }

    /// A server that names a user needs its password.
    static func requirePassword(_ endpoint: SMTPEndpoint, password: String?, command: String) throws {
        guard endpoint.user != nil, (password ?? "").isEmpty else { return }
        throw EngineError.invalidRequest(
            "The SMTP server names a user but has no password.",
            hint: "Pipe it to `\(command) … --smtp-password-stdin` (in the console: the password field).")
    }

    /// Certificates to trust instead of the system's must be PEM.
    static func requirePEM(_ trust: String) throws {
        guard trust.contains("-----BEGIN CERTIFICATE-----") else {
            throw EngineError.invalidRequest(
                "The certificates to trust for the SMTP server must be PEM.", hint: "Give a file of -----BEGIN CERTIFICATE----- blocks.")
        }
    }
}
