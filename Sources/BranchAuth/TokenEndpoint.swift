import BranchPostgres
import BranchREST
import Foundation

/// `POST /token?grant_type=password|refresh_token|pkce`: signing in, refreshing a session, and
/// exchanging a mailed link's PKCE code (see `PKCEChallenge`).
enum TokenEndpoint {
    /// Dispatches on `grant_type`.
    static func handle(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        switch input.query("grant_type") {
        case "password": try await signIn(input, context: context)
        case "refresh_token": try await refresh(input, context: context)
        case "pkce": AuthReply.json(200, try await PKCEChallenge.exchange(input, context: context))
        default: throw AuthFailure.validation("unsupported_grant_type")
        }
    }

    // MARK: Password

    /// What checking a password found.
    private enum SignInOutcome: Sendable {
        case session(String)
        case wrongCredentials
        case failure(AuthFailure)
    }

    /// Email (or phone) and password. Failures count towards the rate limits, which are checked
    /// before any password is; an unknown user costs the same bcrypt work as a known one.
    private static func signIn(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let byPhone = input.string("email") == nil && input.string("phone") != nil
        guard let rawLogin = input.string("email") ?? input.string("phone") else {
            throw AuthFailure.validation("missing email or phone")
        }
        let login = byPhone ? rawLogin.filter { !" +-()".contains($0) } : rawLogin.trimmingCharacters(in: .whitespaces).lowercased()
        let address = input.request.clientAddress
        let scope = context.project
        guard await context.limiter.allows(scope: scope, email: login, address: address, now: context.now()) else {
            throw AuthFailure.overRateLimit
        }
        let password = input.string("password") ?? ""
        let outcome = try await context.database.transaction { connection -> SignInOutcome in
            let found = try await connection.query(
                """
                select u.id::text, u.email_confirmed_at is not null, u.phone_confirmed_at is not null,
                       coalesce(u.banned_until > now(), false),
                       coalesce(extensions.crypt($2::text, coalesce(h.hash, '\(UserRecords.decoySalt)')) = h.hash, false)
                from (select 1) as one
                left join auth.users u on \(byPhone ? "u.phone = $1" : "lower(u.email) = $1") and u.deleted_at is null and not u.is_sso_user
                left join lateral (
                  select case when left(u.encrypted_password, 4) in ('$2a$', '$2b$', '$2y$') then '$2a$' || substr(u.encrypted_password, 5) end as hash
                ) h on true
                limit 1
                """,
                [login, password])
            guard let row = found.rows.first, let userID = row[0], row[4] == "t", !password.isEmpty else { return .wrongCredentials }
            if byPhone ? row[2] != "t" : row[1] != "t" { return .failure(byPhone ? .phoneNotConfirmed : .emailNotConfirmed) }
            if row[3] == "t" { return .failure(.userBanned) }
            try await connection.query("update auth.users set last_sign_in_at = now() where id = $1::uuid", [userID])
            try await connection.query(
                "update auth.identities set last_sign_in_at = now() where user_id = $1::uuid and provider = $2", [userID, byPhone ? "phone" : "email"])
            return .session(try await Sessions.start(userID: userID, input: input, context: context, on: connection))
        }
        switch outcome {
        case .session(let body):
            await context.limiter.recordSuccess(scope: scope, email: login)
            return AuthReply.json(200, body)
        case .wrongCredentials:
            await context.limiter.recordFailure(scope: scope, email: login, address: address, now: context.now())
            throw AuthFailure.invalidCredentials
        case .failure(let failure):
            throw failure
        }
    }

    // MARK: Refresh

    /// Rotates the refresh token: the one sent is revoked and its child returned with a new access
    /// token. A token revoked less than `Sessions.reuseInterval` seconds ago answers with the
    /// session's current token (a client that refreshed twice at once); older revoked tokens, and
    /// tokens of ended sessions, are `refresh_token_not_found` (GoTrue says `refresh_token_already_used`
    /// for the former and also ends the session; here it just stays refused).
    private static func refresh(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        guard let token = input.string("refresh_token") else { throw AuthFailure.validation("refresh_token required") }
        let body = try await context.database.transaction { connection in
            let found = try await connection.query(
                """
                select rt.id::text, coalesce(rt.revoked, false), rt.session_id::text,
                       coalesce(rt.updated_at > now() - make_interval(secs => \(Sessions.reuseInterval)), false),
                       coalesce(extract(epoch from s.created_at), extract(epoch from now()))::bigint::text, s.user_id::text,
                       coalesce(u.banned_until > now(), false), coalesce(s.not_after < now(), false)
                from auth.refresh_tokens rt
                join auth.sessions s on s.id = rt.session_id
                join auth.users u on u.id = s.user_id and u.deleted_at is null
                where rt.token = $1
                for update of rt
                """,
                [token])
            guard let row = found.rows.first, let tokenID = row[0], let sessionID = row[2], let userID = row[5],
                let signedIn = row[4].flatMap({ Int($0) })
            else { throw AuthFailure.refreshTokenNotFound }
            if row[7] == "t" { throw AuthFailure(400, "session_expired", "Session Expired") }
            if row[6] == "t" { throw AuthFailure.userBanned }
            let refreshToken: String
            if row[1] == "t" {
                guard row[3] == "t", let current = try await connection.query(
                    "select token from auth.refresh_tokens where session_id = $1::uuid and not coalesce(revoked, false) order by id desc limit 1",
                    [sessionID]
                ).scalar else { throw AuthFailure.refreshTokenNotFound }
                refreshToken = current
            } else {
                try await connection.query("update auth.refresh_tokens set revoked = true, updated_at = now() where id = $1::bigint", [tokenID])
                refreshToken = try await Sessions.addRefreshToken(userID: userID, sessionID: sessionID, parent: token, on: connection)
                try await connection.query(
                    "update auth.sessions set refreshed_at = now() at time zone 'UTC', updated_at = now() where id = $1::uuid", [sessionID])
            }
            return try await Sessions.sessionJSON(
                userID: userID, sessionID: sessionID, signedInAt: signedIn, refreshToken: refreshToken, context: context, on: connection)
        }
        return AuthReply.json(200, body)
    }
}
