import BranchPostgres
import Crypto
import Foundation

/// Proof Key for Code Exchange, as supabase-js (`flowType: 'pkce'`, @supabase/ssr) and supabase-py
/// use it: the request that mails a link carries a challenge; the link then redirects with a
/// one-time `code` instead of the session, and only the client holding the verifier turns it into
/// a session (`POST /token?grant_type=pkce`). A link opened on another device, or intercepted,
/// yields nothing usable.
struct PKCEChallenge: Sendable, Equatable {
    enum Method: String, Sendable { case s256, plain }

    var challenge: String
    var method: Method

    /// The challenge a request carries, if any: both fields or neither.
    static func from(_ input: AuthInput) throws(AuthFailure) -> PKCEChallenge? {
        try from(challenge: input.string("code_challenge"), method: input.string("code_challenge_method"))
    }

    /// The challenge of these two fields (a body's, or the query of `GET /authorize`), if any.
    static func from(challenge: String?, method: String?) throws(AuthFailure) -> PKCEChallenge? {
        let challenge = challenge.flatMap { $0.isEmpty ? nil : $0 }
        let method = method.flatMap { $0.isEmpty ? nil : $0 }
        guard challenge != nil || method != nil else { return nil }
        guard let challenge, let method, let parsed = Method(rawValue: method.lowercased()) else {
            throw AuthFailure.validation("PKCE flow requires code_challenge_method and code_challenge")
        }
        guard (43...128).contains(challenge.count), challenge.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._~".contains($0)) }) else {
            throw AuthFailure.validation("code challenge has to be between 43 and 128 characters")
        }
        return PKCEChallenge(challenge: challenge, method: parsed)
    }

    /// Whether `verifier` is the one the challenge was made from.
    func accepts(_ verifier: String) -> Bool {
        switch method {
        case .plain: verifier == challenge
        case .s256: Base64URL.encode(Array(SHA256.hash(data: Data(verifier.utf8)))) == challenge
        }
    }

    /// GoTrue's marker on a stored token whose link ends in a code, not a session.
    static let tokenPrefix = "pkce_"

    /// Records the flow for `userID`; its code is issued when the link is followed.
    func start(userID: String, kind: EmailTokenKind, on connection: PGConnection) async throws {
        try await connection.query(
            """
            insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type, created_at, updated_at,
                                         authentication_method)
            values (gen_random_uuid(), $1::uuid, gen_random_uuid()::text, $2::auth.code_challenge_method, $3, 'email', now(), now(), $4)
            """,
            [userID, method.rawValue, challenge, kind == .signup ? "email/signup" : kind.rawValue])
    }

    /// The flows a token in `column` can belong to (magic links and recovery share a column, as in GoTrue).
    static func methods(storedIn column: String) -> [String] {
        switch column {
        case "confirmation_token": ["email/signup", EmailTokenKind.invite.rawValue]
        case "recovery_token": [EmailTokenKind.magiclink.rawValue, EmailTokenKind.recovery.rawValue]
        default: [EmailTokenKind.emailChange.rawValue]
        }
    }

    /// Issues the code of the user's newest pending flow of one of `methods` (nil when there is none).
    static func issueCode(userID: String, methods: [String], within seconds: Int, on connection: PGConnection) async throws -> String? {
        try await connection.query(
            """
            update auth.flow_state set auth_code_issued_at = now(), updated_at = now()
            where id = (select id from auth.flow_state
                        where user_id = $1::uuid and auth_code_issued_at is null and created_at > now() - make_interval(secs => $2::int)
                          and authentication_method = any($3::text[])
                        order by created_at desc limit 1)
            returning auth_code
            """,
            [userID, String(seconds), "{\(methods.map { "\"\($0)\"" }.joined(separator: ","))}"]
        ).scalar
    }

    /// A code lives this long after the link issued it (GoTrue's five minutes).
    static let codeLifetime = 300

    /// `POST /token?grant_type=pkce {"auth_code","code_verifier"}`: the session for an issued code,
    /// once, when the verifier matches the challenge.
    static func exchange(_ input: AuthInput, context: AuthContext) async throws -> String {
        guard let code = input.string("auth_code"), let verifier = input.string("code_verifier") else {
            throw AuthFailure.validation("invalid request: both auth code and code verifier should be non-empty")
        }
        return try await context.database.transaction { connection in
            let found = try await connection.query(
                """
                select f.id::text, f.user_id::text, f.code_challenge_method::text, f.code_challenge,
                       coalesce(f.auth_code_issued_at > now() - make_interval(secs => $2::int), false), coalesce(u.banned_until > now(), false),
                       f.provider_access_token, f.provider_refresh_token
                from auth.flow_state f join auth.users u on u.id = f.user_id and u.deleted_at is null
                where f.auth_code = $1 and f.auth_code_issued_at is not null
                for update of f
                """,
                [code, String(codeLifetime)])
            guard let row = found.rows.first, let flowID = row[0], let userID = row[1], let method = row[2].flatMap(Method.init(rawValue:)),
                let challenge = row[3]
            else { throw AuthFailure(404, "flow_state_not_found", "invalid flow state, no valid flow state found") }
            guard row[4] == "t" else { throw AuthFailure(400, "flow_state_expired", "invalid flow state, flow state has expired") }
            guard PKCEChallenge(challenge: challenge, method: method).accepts(verifier) else {
                throw AuthFailure(400, "bad_code_verifier", "code challenge does not match previously saved code verifier")
            }
            if row[5] == "t" { throw AuthFailure.userBanned }
            try await connection.query("delete from auth.flow_state where id = $1::uuid", [flowID])
            try await connection.query("update auth.users set last_sign_in_at = now() where id = $1::uuid", [userID])
            // A provider's sign-in hands its tokens on, as GoTrue does, for the app's calls to the provider.
            let providerTokens = [("provider_token", row[6]), ("provider_refresh_token", row[7])].compactMap { key, value in
                value.map { (key, JSONText.string($0)) }
            }
            return try await Sessions.start(userID: userID, input: input, context: context, on: connection, extra: providerTokens)
        }
    }
}
