package import Foundation

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
    /// At most this many mails an hour for the whole project (GoTrue's RATE_LIMIT_EMAIL_SENT), so
    /// anonymous requests cannot spam through the owner's mail account.
    package var mailsPerHour: Int
    /// The project's mail server; nil when it has none (then no flow that mails is available).
    package var mailer: (any AuthMailer)?
    /// The project's own wording of its mails, by kind (`MailTemplate.kinds`); the rest use the defaults.
    package var templates: [String: MailTemplate] = [:]
    /// Whether a changed email is confirmed at the current address as well as the new one
    /// (GoTrue's MAILER_SECURE_EMAIL_CHANGE_ENABLED, on by default): a stolen session alone then
    /// cannot move the account to another address.
    package var secureEmailChange = true
    /// The sign-in providers the project turned on (GitHub, Google…), with their client credentials.
    package var providers: [OAuthProviderKind: OAuthProviderSettings] = [:]

    package init(
        allowSignup: Bool = true, confirmEmail: Bool = false, siteURL: String = AuthPolicy.defaultSiteURL, redirectURLs: [String] = [],
        otpExpirySeconds: Int = 3600, emailIntervalSeconds: Int = 60, mailsPerHour: Int = AuthPolicy.defaultMailsPerHour, mailer: (any AuthMailer)? = nil
    ) {
        self.mailsPerHour = mailsPerHour
        self.allowSignup = allowSignup
        self.confirmEmail = confirmEmail
        self.siteURL = siteURL
        self.redirectURLs = redirectURLs
        self.otpExpirySeconds = otpExpirySeconds
        self.emailIntervalSeconds = emailIntervalSeconds
        self.mailer = mailer
    }

    /// GoTrue's default RATE_LIMIT_EMAIL_SENT.
    package static let defaultMailsPerHour = 30

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
    /// The URL must be plain (no user, no fragment, a host of letters, digits, dots and hyphens),
    /// and a pattern's host part is matched against the host alone and its path part against the
    /// path and query: `*.example.com` can never be satisfied by `evil.com?.example.com`.
    package static func allows(_ url: String, siteURL: String, allowList: [String]) -> Bool {
        guard let target = PlainURL(url) else { return false }
        if let site = PlainURL(siteURL), site.scheme == target.scheme, site.hostPort == target.hostPort { return true }
        return allowList.contains { entry in
            guard let pattern = PlainURL.Pattern(entry) else { return false }
            return pattern.scheme == target.scheme && RedirectGlob(pattern.hostPort).matches(target.hostPort)
                && (pattern.rest.isEmpty ? (target.rest.isEmpty || target.rest == "/") : RedirectGlob(pattern.rest).matches(target.rest))
        }
    }
}

/// A redirect target split for matching: scheme, `host[:port]` (lower-cased) and the rest (path and query).
struct PlainURL: Equatable {
    var scheme: String
    var hostPort: String
    var rest: String

    init?(_ text: String) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), !scheme.isEmpty,
            components.user == nil, components.password == nil, components.fragment == nil, let host = components.host?.lowercased(), !host.isEmpty,
            host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":") })
        else { return nil }
        self.scheme = scheme
        hostPort = host + (components.port.map { ":\($0)" } ?? "")
        rest = components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    /// An allow-list entry: `scheme://host-glob[:port]/path-glob`, split the same way by hand (a glob is not a URL).
    struct Pattern {
        var scheme: String
        var hostPort: String
        var rest: String

        init?(_ text: String) {
            guard let separator = text.range(of: "://") else { return nil }
            scheme = text[..<separator.lowerBound].lowercased()
            let afterScheme = text[separator.upperBound...]
            let slash = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
            hostPort = afterScheme[..<slash].lowercased()
            rest = String(afterScheme[slash...])
            guard !scheme.isEmpty, !hostPort.isEmpty, !hostPort.contains("@") else { return nil }
        }
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
    /// Whether `body` is HTML (a project's template that starts with a tag), else plain text.
    package var html: Bool

    package init(to: String, subject: String, body: String, html: Bool = false) {
        self.to = to
        self.subject = subject
        self.body = body
        self.html = html
    }
}

/// The mails each project sent in the last hour, to hold it to `AuthPolicy.mailsPerHour`.
package actor MailBudget {
    private var sent: [String: [Date]] = [:]

    package init() {}

    /// Takes one mail of `scope`'s hourly budget; false when `perHour` went out in the last hour.
    package func take(scope: String, perHour: Int, now: Date) -> Bool {
        var times = sent[scope, default: []].filter { now.timeIntervalSince($0) < 3600 }
        defer { sent[scope] = times }
        guard times.count < perHour else { return false }
        times.append(now)
        return true
    }
}
