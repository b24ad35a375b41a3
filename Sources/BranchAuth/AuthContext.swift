package import BranchPostgres
package import Foundation

/// The database the auth endpoints work on: the branch's own, where `auth.users` lives.
package protocol AuthDatabase: Sendable {
    /// Runs `body` in one transaction on the branch's database as supabase_auth_admin (COMMIT on success, ROLLBACK on throw).
    func transaction<T: Sendable>(_ body: @Sendable (PGConnection) async throws -> T) async throws -> T
}

/// Everything one `/auth/v1` request needs besides the request itself.
package struct AuthContext: Sendable {
    /// The project's name (rate limits are kept per project).
    package var project: String
    /// The bytes the project's tokens are signed with (`ProjectKeys.secretBytes`).
    package var jwtSecret: [UInt8]
    /// The access tokens' `iss`, the auth base URL: `http://host:port/p/proj/auth/v1`.
    package var issuer: String
    /// Role claim of the verified apikey: anon or service_role. The admin endpoints verify the bearer
    /// themselves, as GoTrue does.
    package var apiKeyRole: String
    /// The project's auth settings: sign-ups, email confirmation, links and mail.
    package var policy: AuthPolicy
    /// Whether sign-ups and email changes take effect at once, unconfirmed (GoTrue's MAILER_AUTOCONFIRM).
    package var autoConfirm: Bool { !policy.confirmEmail }
    /// Where the users are: the branch's database, as supabase_auth_admin.
    package var database: any AuthDatabase
    /// Failed sign-in counting, shared by the project's requests.
    package var limiter: SignInLimiter
    /// Mails sent per project in the last hour, shared by every request.
    package var mailBudget: MailBudget
    /// The auth base URL mailed links start with (`https://host/p/proj/auth/v1`): configured, never
    /// the request's Host header, which a client could forge to have a victim's link point at it.
    package var linkBase: String
    /// The clock tokens are issued and checked with.
    package var now: @Sendable () -> Date
    /// Which of the project's long-lived keys are current (nil: every key the secret verifies).
    package var currentKeys: KeyIssueTimes?
    /// How the OAuth callback reaches providers (nil: no provider sign-in).
    package var oauthHTTP: (any OAuthHTTP)?

    package init(
        project: String, jwtSecret: [UInt8], issuer: String, apiKeyRole: String, policy: AuthPolicy = AuthPolicy(),
        database: any AuthDatabase, limiter: SignInLimiter, mailBudget: MailBudget = MailBudget(), linkBase: String? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.mailBudget = mailBudget
        self.linkBase = linkBase ?? issuer
        self.project = project
        self.jwtSecret = jwtSecret
        self.issuer = issuer
        self.apiKeyRole = apiKeyRole
        self.policy = policy
        self.database = database
        self.limiter = limiter
        self.now = now
    }
}
