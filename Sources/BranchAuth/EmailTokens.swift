import BranchPostgres
import Crypto
import Foundation

/// What a mailed one-time token is for, as GoTrue's `type` names it.
enum EmailTokenKind: String, Sendable, CaseIterable {
    case signup, invite, magiclink, recovery
    case emailChange = "email_change"

    /// The `auth.users` column the token's hash is kept in, and when it was sent (GoTrue's columns,
    /// so a user moved to or from Supabase keeps a pending link working).
    var column: String {
        switch self {
        case .signup, .invite: "confirmation_token"
        case .magiclink, .recovery: "recovery_token"
        case .emailChange: "email_change_token_new"
        }
    }

    var sentColumn: String {
        switch self {
        case .signup, .invite: "confirmation_sent_at"
        case .magiclink, .recovery: "recovery_sent_at"
        case .emailChange: "email_change_sent_at"
        }
    }

    /// The name of its `MailTemplate` (GoTrue's `MAILER_TEMPLATES_*`).
    var templateName: String {
        switch self {
        case .signup: "confirmation"
        case .invite: "invite"
        case .magiclink: "magic_link"
        case .recovery: "recovery"
        case .emailChange: "email_change"
        }
    }

    /// The message's subject and its first line, GoTrue's default templates in words.
    var wording: (subject: String, lead: String) {
        switch self {
        case .signup: ("Confirm your signup", "Follow this link to confirm your email address")
        case .invite: ("You have been invited", "You have been invited to create a user. Follow this link to accept the invite")
        case .magiclink: ("Your Magic Link", "Follow this link to sign in")
        case .recovery: ("Reset Your Password", "Follow this link to reset the password for your user")
        case .emailChange: ("Confirm Change of Email", "Follow this link to confirm the update of your email")
        }
    }
}

/// A mailed one-time token: a six-digit code the user may type, and its hash, which is what is
/// stored and what links carry. The hash is an HMAC of email and code under the project's JWT
/// secret (GoTrue's is a plain sha224, which anyone who knows the email could compute for all
/// million codes and try as `token_hash`): a link's token cannot be guessed, only the typed
/// code, which the per-email sign-in limit guards. A link mailed by Supabase before a move stops
/// working after it.
struct EmailToken: Sendable, Equatable {
    var code: String
    var hash: String

    static func issue(for email: String, key: [UInt8]) -> EmailToken {
        var generator = SystemRandomNumberGenerator()
        let code = String(format: "%06d", Int.random(in: 0..<1_000_000, using: &generator))
        return EmailToken(code: code, hash: hash(email: email, code: code, key: key))
    }

    static func hash(email: String, code: String, key: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data((email.lowercased() + code).utf8), using: SymmetricKey(data: key))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether `text` can be a stored hash (the columns hold '' when no token is pending: '' must never match).
    static func isHash(_ text: String) -> Bool {
        text.count == 64 && text.allSatisfy { $0.isHexDigit }
    }
}

/// Issuing, storing and mailing tokens for a user, in the caller's transaction: a mail that fails
/// to go out undoes the user or token it was for.
enum EmailTokens {
    /// `verify` link of a token: `{issuer}/verify?token=…&type=…&redirect_to=…`.
    static func link(_ token: EmailToken, kind: EmailTokenKind, redirect: String, context: AuthContext) -> String {
        var unreserved = CharacterSet.alphanumerics
        unreserved.insert(charactersIn: "-._~")
        let target = redirect.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
        return "\(context.linkBase)/verify?token=\(token.hash)&type=\(kind.rawValue)&redirect_to=\(target)"
    }

    /// Stores a new token of `kind` for the user (the previous one stops working); with a PKCE
    /// challenge, the flow too, and the token marked so its link ends in a code.
    static func store(_ token: EmailToken, kind: EmailTokenKind, userID: String, pkce: PKCEChallenge? = nil, on connection: PGConnection) async throws {
        if let pkce { try await pkce.start(userID: userID, kind: kind, on: connection) }
        try await connection.query(
            "update auth.users set \(kind.column) = $2, \(kind.sentColumn) = now(), updated_at = now() where id = $1::uuid",
            [userID, (pkce == nil ? "" : PKCEChallenge.tokenPrefix) + token.hash])
    }

    /// Refuses a second mail of `kind` to the user within the project's interval (429, GoTrue's wording).
    static func checkInterval(kind: EmailTokenKind, userID: String, context: AuthContext, on connection: PGConnection) async throws {
        let interval = context.policy.emailIntervalSeconds
        let wait = try await connection.query(
            "select ceil(extract(epoch from (\(kind.sentColumn) + make_interval(secs => $2::int) - now())))::int from auth.users where id = $1::uuid",
            [userID, String(interval)]
        ).scalar.flatMap { Int($0) } ?? 0
        if wait > 0 {
            throw AuthFailure(429, "over_email_send_rate_limit", "For security purposes, you can only request this after \(wait) seconds.")
        }
    }

    /// Issues, stores and mails a token of `kind` to `email` for the user, within the interval check
    /// (`pkce`: the request's challenge, for a link that ends in a code).
    static func send(
        _ kind: EmailTokenKind, to email: String, userID: String, redirect: String, pkce: PKCEChallenge? = nil, context: AuthContext,
        on connection: PGConnection
    ) async throws {
        let mailer = try await admit(kind, mails: 1, userID: userID, context: context, on: connection)
        let token = EmailToken.issue(for: email, key: context.jwtSecret)
        try await store(token, kind: kind, userID: userID, pkce: pkce, on: connection)
        let mail = message(
            kind, to: email, token: token, link: link(token, kind: kind, redirect: redirect, context: context), redirect: redirect, context: context)
        try await deliver(
            mail, via: mailer, failure: "Error sending \(kind == .recovery ? "recovery" : kind == .magiclink ? "magic link" : kind == .invite ? "invite" : "confirmation") email")
    }

    /// The project's mailer, once the user has not been mailed `kind` within the interval and
    /// `mails` fit in the project's hourly budget (taken from it).
    private static func admit(
        _ kind: EmailTokenKind, mails: Int, userID: String, context: AuthContext, on connection: PGConnection
    ) async throws -> any AuthMailer {
        guard let mailer = context.policy.mailer else { throw AuthFailure.emailSendingDisabled }
        try await checkInterval(kind: kind, userID: userID, context: context, on: connection)
        for _ in 0..<mails {
            guard await context.mailBudget.take(scope: context.project, perHour: context.policy.mailsPerHour, now: context.now()) else {
                throw AuthFailure(429, "over_email_send_rate_limit", "Email rate limit exceeded")
            }
        }
        return mailer
    }

    /// Sends `mail`; a failure is GoTrue's 500 with `failure` (the server's words are in the service log).
    private static func deliver(_ mail: AuthMail, via mailer: any AuthMailer, failure: String) async throws {
        do {
            try await mailer.send(mail)
        } catch {
            throw AuthFailure(500, "unexpected_failure", failure)
        }
    }

    /// Mails an email change of the user from `current` to `new`: to the new address, and with
    /// `atCurrent` (GoTrue's secure email change) to the current one too, each with its own token.
    /// The change applies once every token mailed is redeemed (`VerifyEndpoint`).
    static func sendEmailChange(
        from current: String?, to new: String, atCurrent: Bool, userID: String, redirect: String, context: AuthContext, on connection: PGConnection
    ) async throws {
        let recipients = [new] + (atCurrent ? current.map { [$0] } ?? [] : [])
        let mailer = try await admit(.emailChange, mails: recipients.count, userID: userID, context: context, on: connection)
        let tokens = recipients.map { EmailToken.issue(for: $0, key: context.jwtSecret) }
        try await connection.query(
            """
            update auth.users set email_change_token_new = $2, email_change_token_current = $3, email_change_confirm_status = 0,
              email_change_sent_at = now(), updated_at = now() where id = $1::uuid
            """,
            [userID, tokens[0].hash, tokens.count > 1 ? tokens[1].hash : ""])
        // GoTrue's variables in both mails: Email is the address now, NewEmail the one asked for.
        let names = ["Email": current ?? new, "NewEmail": new]
        for (address, token) in zip(recipients, tokens) {
            let mail = message(
                .emailChange, to: address, token: token, link: link(token, kind: .emailChange, redirect: redirect, context: context), redirect: redirect,
                context: context, values: names)
            try await deliver(mail, via: mailer, failure: "Error sending email change email")
        }
    }

    /// The message: the link, and the code for clients that verify by typing it; in the project's
    /// own wording where it has a template for `kind` (`redirect`: where the link leads after;
    /// `values`: variables besides the token's, which default `Email` to the recipient).
    static func message(
        _ kind: EmailTokenKind, to email: String, token: EmailToken, link: String, redirect: String, context: AuthContext, values extra: [String: String] = [:]
    ) -> AuthMail {
        let template = context.policy.templates[kind.templateName] ?? MailTemplate()
        var values = [
            "ConfirmationURL": link, "Token": token.code, "TokenHash": token.hash, "SiteURL": context.policy.siteURL, "Email": email,
            "RedirectTo": redirect,
        ]
        values.merge(extra) { _, new in new }
        let subject = template.subject.map { MailTemplate.render($0, values: values, html: false) } ?? kind.wording.subject
        if let custom = template.body {
            let html = MailTemplate.isHTML(custom)
            return AuthMail(to: email, subject: subject, body: MailTemplate.render(custom, values: values, html: html), html: html)
        }
        let minutes = max(context.policy.otpExpirySeconds / 60, 1)
        let lead = kind == .emailChange ? "\(kind.wording.lead) from \(values["Email"] ?? email) to \(values["NewEmail"] ?? email)" : kind.wording.lead
        let body = """
            \(lead):

            \(link)

            Or enter this code: \(token.code)

            The link and the code work once, for \(minutes) minute\(minutes == 1 ? "" : "s"). If you did not ask for this, ignore this message.
            """
        return AuthMail(to: email, subject: subject, body: body)
    }

    /// The live user with this email, locked for the caller's transaction.
    static func user(email: String, on connection: PGConnection) async throws -> (id: String, confirmed: Bool, banned: Bool)? {
        let found = try await connection.query(
            """
            select id::text, email_confirmed_at is not null, coalesce(banned_until > now(), false)
            from auth.users where lower(email) = $1 and deleted_at is null and not is_sso_user
            for update
            """,
            [email])
        guard let row = found.rows.first, let id = row[0] else { return nil }
        return (id, row[1] == "t", row[2] == "t")
    }
}

extension AuthFailure {
    /// A flow that mails, on a project without a mail server.
    static let emailSendingDisabled = AuthFailure(
        400, "email_provider_disabled",
        "This project sends no email: its owner sets an SMTP server in the console's Auth settings or with `branch auth set --smtp …`.")
    static let signupDisabled = AuthFailure(422, "signup_disabled", "Signups not allowed for this instance")
    static let otpExpired = AuthFailure(403, "otp_expired", "Token has expired or is invalid")
}
