import Crypto
import Foundation

/// The signed-in user of the request being handled, set by `SessionMiddleware`.
package struct ConsoleSession: Sendable {
    /// The API token the session cookie holds.
    package var token: String
    package var viewer: ConsoleViewer
    /// The value every form and every script's request must send back (`_csrf`, `X-CSRF-Token`).
    package var csrf: String

    @TaskLocal package static var current: ConsoleSession?

    /// The session, or a redirect to the sign-in page for a visitor without one.
    package static func required() throws -> ConsoleSession {
        guard let current else { throw SignInRequired() }
        return current
    }
}

/// Thrown by a page that needs a signed-in user; answered with a redirect to `/login`.
struct SignInRequired: Error {}

/// The names and attributes of the console's cookies. The session cookie is HttpOnly and
/// SameSite=Strict, so another site can neither read it nor make the browser send it.
struct SessionCookies: Sendable {
    static let session = "branch_session"
    /// A random value made for a visitor without a session; its HMAC is the sign-in forms' CSRF token.
    static let preSession = "branch_presession"
    static let flash = "branch_flash"
    static let theme = "branch_theme"

    /// Whether cookies get `Secure` (the service serves HTTPS).
    var secure: Bool

    func set(_ name: String, _ value: String, maxAge: Int?, httpOnly: Bool = true) -> String {
        var cookie = "\(name)=\(value); Path=/; SameSite=Strict"
        if httpOnly { cookie += "; HttpOnly" }
        if secure { cookie += "; Secure" }
        if let maxAge { cookie += "; Max-Age=\(maxAge)" }
        return cookie
    }

    func clear(_ name: String) -> String { set(name, "", maxAge: 0) }

    /// The value of cookie `name` in a `Cookie` header.
    static func value(_ name: String, in header: String?) -> String? {
        guard let header else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == name { return String(pair[1]) }
        }
        return nil
    }
}

/// CSRF tokens: an HMAC under a key made at start-up, so a token is worthless for any other
/// session and after a restart. A signed-in session's token is bound to the session token; the
/// sign-in and first-run forms' token to the pre-session cookie (a different message, so neither
/// token ever stands for the other).
struct CSRFTokens: Sendable {
    private let key = SymmetricKey(size: .bits256)

    func token(for session: String) -> String { code(for: "session\u{0}" + session) }

    func token(forPreSession cookie: String) -> String { code(for: "pre-session\u{0}" + cookie) }

    func isValid(_ candidate: String?, for session: String) -> Bool { Self.same(candidate, token(for: session)) }

    func isValid(_ candidate: String?, forPreSession cookie: String) -> Bool { Self.same(candidate, token(forPreSession: cookie)) }

    private func code(for message: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: key)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Constant-time comparison: the digests' lengths are fixed.
    private static func same(_ candidate: String?, _ expected: String) -> Bool {
        guard let candidate else { return false }
        return candidate.utf8.count == expected.utf8.count && zip(candidate.utf8, expected.utf8).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
