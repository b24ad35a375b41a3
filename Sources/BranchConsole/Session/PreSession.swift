import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// CSRF protection for the forms a visitor without a session posts: sign-in and the first run.
/// Without it another site could sign a browser in to an account of its choosing (login CSRF), or
/// post the first-run form. The form pages give the browser a random pre-session cookie (HttpOnly
/// and SameSite=Strict: another site can neither read it nor make the browser send it) and put its
/// HMAC into the form as `_csrf`; a POST must bring both back.
struct PreSession: Sendable {
    let cookies: SessionCookies
    let csrf: CSRFTokens

    /// The forms that carry the pre-session token rather than a session's (a signed-in user may
    /// still post the sign-in form of an older tab).
    static let formPaths: Set<String> = ["/login", "/setup"]

    /// The form token for the visitor of `request`, and a `Set-Cookie` value when the visitor has
    /// no (well-formed) pre-session cookie yet.
    func formToken(_ request: Request) -> (token: String, setCookie: String?) {
        if let cookie = Self.cookie(in: request.headers[.cookie]) { return (csrf.token(forPreSession: cookie), nil) }
        let cookie = Self.newCookieValue()
        return (csrf.token(forPreSession: cookie), cookies.set(SessionCookies.preSession, cookie, maxAge: nil))
    }

    /// Refuses a posted sign-in or first-run form whose `_csrf` is not the HMAC of its pre-session cookie.
    func check(_ request: Request, form: FormFields) throws {
        guard let cookie = Self.cookie(in: request.headers[.cookie]), csrf.isValid(form["_csrf"], forPreSession: cookie) else {
            throw ConsoleFailure.csrfRefused
        }
    }

    /// The `Set-Cookie` value that removes the pre-session cookie once the visitor has a session.
    func clear() -> String { cookies.clear(SessionCookies.preSession) }

    /// The request's pre-session cookie when it has the shape this type makes (43 base64url characters).
    static func cookie(in header: String?) -> String? {
        guard let value = SessionCookies.value(SessionCookies.preSession, in: header), value.utf8.count == 43,
              value.utf8.allSatisfy({ byte in
                  (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                      || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
              })
        else { return nil }
        return value
    }

    /// 256 random bits, base64url without padding.
    static func newCookieValue() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
