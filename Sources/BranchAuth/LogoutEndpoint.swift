import BranchPostgres
import BranchREST

/// `POST /logout?scope=global|local|others` with the user's access token: ends every session of the
/// user (global, the default), only the token's session (local), or all the others; their refresh
/// tokens go with them. 204, also when the session had already ended.
enum LogoutEndpoint {
    /// Ends the sessions `scope` names; 204.
    static func handle(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let bearer = try BearerToken(input, context: context)
        let userID = try bearer.userID()
        let scope = input.query("scope") ?? "global"
        guard ["global", "local", "others"].contains(scope) else {
            throw AuthFailure.validation("Unsupported logout scope \"\(scope)\"")
        }
        let sessionID = bearer.sessionID
        try await context.database.transaction { connection in
            switch (scope, sessionID) {
            case ("local", let sessionID?):
                try await connection.query("delete from auth.sessions where id = $1::uuid and user_id = $2::uuid", [sessionID, userID])
            case ("others", let sessionID?):
                try await connection.query("delete from auth.sessions where user_id = $1::uuid and id <> $2::uuid", [userID, sessionID])
            default:
                // Global, or a token without a session (older GoTrue tokens): everything the user has.
                try await connection.query("delete from auth.sessions where user_id = $1::uuid", [userID])
                try await connection.query("delete from auth.refresh_tokens where user_id = $1", [userID])
            }
        }
        return AuthReply.empty(204)
    }
}
