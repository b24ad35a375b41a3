import BranchCore

/// The caller's identity from `Authorization: Bearer <jwt>`, verified with the project's secret as
/// GoTrue verifies it (an expired or forged token is 403 `bad_jwt`, none at all 401).
struct BearerToken: Sendable {
    let claims: [String: JSONValue]

    init(_ input: AuthInput, context: AuthContext) throws(AuthFailure) {
        guard let token = input.bearer else { throw .noAuthorization }
        do {
            claims = try JWT.verify(token, secret: context.jwtSecret, now: context.now())
        } catch {
            throw .badJWT(Self.reason(error))
        }
        if let current = context.currentKeys, !current.accepts(claims) { throw .badJWT("token has been revoked") }
    }

    /// The user the token names (`sub`), for the endpoints that act on the signed-in user.
    func userID() throws(AuthFailure) -> String {
        guard let sub = claims["sub"]?.stringValue, !sub.isEmpty else { throw .missingSub }
        guard let id = AuthInput.uuid(sub) else { throw .badJWT("invalid claim: sub claim must be a UUID") }
        return id
    }

    /// The session the token belongs to (`session_id`), when it names one.
    var sessionID: String? { claims["session_id"]?.stringValue.flatMap(AuthInput.uuid) }

    /// Whether the token may use the admin endpoints (GoTrue's admin roles).
    var isAdmin: Bool { ["service_role", "supabase_admin"].contains(claims["role"]?.stringValue ?? "") }

    /// GoTrue's wording (golang-jwt's) of why a token was refused.
    private static func reason(_ error: JWTError) -> String {
        switch error {
        case .malformed: "token is malformed"
        case .unsupportedAlgorithm: "signing method is invalid"
        case .badSignature: "token signature is invalid: signature is invalid"
        case .expired: "token has invalid claims: token is expired"
        case .missingExpiry: "token has invalid claims: token is missing required claim: exp claim is required"
        case .notYetValid: "token has invalid claims: token is not valid yet"
        }
    }
}
