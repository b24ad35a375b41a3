import Foundation

/// A project's auth settings as the endpoints apply them: who may sign up, whether an email must be
/// confirmed first, where email links lead, how long their codes last and how mail goes out.
package struct AuthPolicy: Sendable {
    /// GoTrue's `DISABLE_SIGNUP`, inverted: false refuses `/signup` and new users from `/otp`.
    package var allowSignup: Bool
    /// Whether a sign-up must follow the link (or enter the code) mailed to it before signing in
    /// (GoTrue's MAILER_AUTOCONFIRM off). Needs a mailer.
    package var confirmEmail: Bool
    /// Where links lead when the client names no allowed `redirect_to` (GoTrue's SITE_URL).
    package var siteURL: String
    /// Further places links may lead to: exact URLs or globs (`*` within one host label or path
    /// segment, `**` across them), as GoTrue's URI_ALLOW_LIST.
    package var redirectURLs: [String]
    /// How long a mailed code or link stays valid (GoTrue's MAILER_OTP_EXP).
    package var otpExpirySeconds: Int
    /// The least time between two mails of one kind to one address (GoTrue's SMTP_MAX_FREQUENCY).
    package var emailIntervalSeconds: Int
    /// The project's mail server; nil when it has none (then no flow that mails is available).
    package var mailer: (any AuthMailer)?

    package init(
        allowSignup: Bool = true, confirmEmail: Bool = false, siteURL: String = AuthPolicy.defaultSiteURL, redirectURLs: [String] = [],
        otpExpirySeconds: Int = 3600, emailIntervalSeconds: Int = 60, mailer: (any AuthMailer)? = nil
    ) {
        self.allowSignup = allowSignup
        self.confirmEmail = confirmEmail
        self.siteURL = siteURL
        self.redirectURLs = redirectURLs
        self.otpExpirySeconds = otpExpirySeconds
        self.emailIntervalSeconds = emailIntervalSeconds
        self.mailer = mailer
    }

    /// GoTrue's default SITE_URL.
    package static let defaultSiteURL = "http://localhost:3000"

    /// Where a link may send the user: `requested` when the site's host has it or the allow list
    /// matches it, else the site URL (never an address the project did not allow: an open redirect
    /// would hand tokens to whoever wrote the link).
    package func redirect(_ requested: String?) -> String {
        guard let requested, !requested.isEmpty else { return siteURL }
        return Self.allows(requested, siteURL: siteURL, allowList: redirectURLs) ? requested : siteURL
    }

    /// Whether `url` is the site's (same scheme, host and port) or matches an allow-list entry.
    package static func allows(_ url: String, siteURL: String, allowList: [String]) -> Bool {
        guard let target = URLComponents(string: url), let scheme = target.scheme, target.user == nil, target.password == nil else { return false }
        if let site = URLComponents(string: siteURL), site.scheme == scheme, let host = site.host, !host.isEmpty,
            host.lowercased() == target.host?.lowercased(), site.port == target.port
        {
            return true
        }
        return allowList.contains { pattern in pattern == url || RedirectGlob(pattern).matches(url) }
    }
}

/// GoTrue's allow-list globs: `**` matches anything, `*` anything but `.` and `/`, `?` one such character.
package struct RedirectGlob: Sendable {
    let pattern: [Character]

    package init(_ pattern: String) { self.pattern = Array(pattern) }

    package func matches(_ text: String) -> Bool {
        let text = Array(text)
        // Memoized positions: a hostile pattern or URL cannot make this exponential.
        var memo = [Int: Bool]()
        func match(_ p: Int, _ t: Int) -> Bool {
            let key = p * (text.count + 1) + t
            if let known = memo[key] { return known }
            let result: Bool
            if p == pattern.count {
                result = t == text.count
            } else if pattern[p] == "*" {
                let crossing = p + 1 < pattern.count && pattern[p + 1] == "*"
                let next = crossing ? p + 2 : p + 1
                if match(next, t) {
                    result = true
                } else if t < text.count, crossing || (text[t] != "." && text[t] != "/") {
                    result = match(p, t + 1)
                } else {
                    result = false
                }
            } else if t < text.count, pattern[p] == "?" ? (text[t] != "." && text[t] != "/") : pattern[p] == text[t] {
                result = match(p + 1, t + 1)
            } else {
                result = false
            }
            memo[key] = result
            return result
        }
        return match(0, 0)
    }
}

/// Sends the auth module's mail (confirmations, magic links, recovery, invitations).
package protocol AuthMailer: Sendable {
    /// Delivers one message or throws; the thrown error is logged by the mailer's owner, never
    /// shown to the client (it may name the mail server).
    func send(_ mail: AuthMail) async throws
}

/// One message of the auth module.
package struct AuthMail: Sendable, Equatable {
    package var to: String
    package var subject: String
    package var body: String

    package init(to: String, subject: String, body: String) {
        self.to = to
        self.subject = subject
        self.body = body
    }
}
