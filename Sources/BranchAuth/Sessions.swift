import BranchCore
import BranchPostgres
import BranchREST
import Foundation

/// Sessions, refresh tokens and access tokens, as GoTrue issues them: one `auth.sessions` row per
/// sign-in, a chain of refresh tokens in it (each refresh revokes the token used and adds its
/// child), and an HS256 access token of an hour carrying the session's id.
enum Sessions {
    /// Access tokens last an hour (GoTrue's default JWT_EXP).
    static let accessTokenLifetime = 3600
    /// A revoked refresh token still answers for this long (a client that sent it twice, e.g. from
    /// two tabs, gets the session's current token); after it, it is `refresh_token_not_found`.
    static let reuseInterval = 10

    /// Starts a session for a user who just proved who they are; returns the session JSON.
    /// `extra` fields (already JSON) are added to the session object (a provider's tokens).
    static func start(
        userID: String, input: AuthInput, context: AuthContext, on connection: PGConnection, extra: [(String, String)] = []
    ) async throws -> String {
        let row = try await connection.query(
            """
            insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
            values (gen_random_uuid(), $1::uuid, now(), now(), 'aal1', $2, $3::inet)
            returning id::text, extract(epoch from created_at)::bigint::text
            """,
            [userID, input.request.header("user-agent"), input.clientIP])
        guard let sessionID = row.rows.first?[0], let signedIn = row.rows.first?[1].flatMap({ Int($0) }) else { throw AuthFailure.unexpected }
        let refreshToken = try await addRefreshToken(userID: userID, sessionID: sessionID, parent: nil, on: connection)
        return try await sessionJSON(
            userID: userID, sessionID: sessionID, signedInAt: signedIn, refreshToken: refreshToken, context: context, on: connection, extra: extra)
    }

    /// A new refresh token of the session.
    static func addRefreshToken(userID: String, sessionID: String, parent: String?, on connection: PGConnection) async throws -> String {
        let token = RefreshTokens.generate()
        try await connection.query(
            """
            insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
            values ($1::uuid, $2, $3, false, now(), now(), $4, $5::uuid)
            """,
            [UserRecords.instanceID, token, userID, parent, sessionID])
        return token
    }

    /// `{"access_token","token_type":"bearer","expires_in","expires_at","refresh_token","user"}`, with a
    /// fresh access token for the user as the database has them now.
    static func sessionJSON(
        userID: String, sessionID: String, signedInAt: Int, refreshToken: String, context: AuthContext, on connection: PGConnection,
        extra: [(String, String)] = []
    ) async throws -> String {
        guard let userJSON = try await UserRecords.json(id: userID, on: connection), let user = JSONText.decode(userJSON)?.objectValue else {
            throw AuthFailure.unexpected
        }
        let issuedAt = Int(context.now().timeIntervalSince1970.rounded(.down))
        let expiresAt = issuedAt + accessTokenLifetime
        let claims = accessTokenClaims(user: user, sessionID: sessionID, signedInAt: signedInAt, issuedAt: issuedAt, issuer: context.issuer)
        let accessToken = JWT.sign(claims, secret: context.jwtSecret)
        return JSONText.object([
            ("access_token", JSONText.string(accessToken)),
            ("token_type", JSONText.string("bearer")),
            ("expires_in", String(accessTokenLifetime)),
            ("expires_at", String(expiresAt)),
            ("refresh_token", JSONText.string(refreshToken)),
            ("user", userJSON),
        ] + extra)
    }

    /// GoTrue's access token claims for `user` (the user object as sent to clients).
    static func accessTokenClaims(
        user: [String: JSONValue], sessionID: String, signedInAt: Int, issuedAt: Int, issuer: String
    ) -> [String: JSONValue] {
        func nonEmpty(_ key: String, _ fallback: String) -> JSONValue {
            if let value = user[key]?.stringValue, !value.isEmpty { .string(value) } else { .string(fallback) }
        }
        return [
            "iss": .string(issuer),
            "sub": user["id"] ?? .null,
            "aud": nonEmpty("aud", "authenticated"),
            "exp": .integer(issuedAt + accessTokenLifetime),
            "iat": .integer(issuedAt),
            "email": user["email"] ?? "",
            "phone": user["phone"] ?? "",
            "app_metadata": user["app_metadata"] ?? .object([:]),
            "user_metadata": user["user_metadata"] ?? .object([:]),
            "role": nonEmpty("role", "authenticated"),
            "aal": "aal1",
            "amr": [["method": "password", "timestamp": .integer(signedInAt)]],
            "session_id": .string(sessionID),
            "is_anonymous": user["is_anonymous"] ?? false,
        ]
    }
}
