import BranchAuth
import BranchCore
import BranchREST
import Foundation

/// The two checks before any data API request, as Supabase's gateway and PostgREST make them:
/// an API key of this project (header `apikey`, any case, or `?apikey=`), then the JWT the
/// request runs as (`Authorization: Bearer`, else the API key itself).
enum APIKeyCheck {
    /// The API key's verified claims; 401 when there is none or it is not this project's.
    static func verifyAPIKey(
        in request: DataRequest, secret: [UInt8], current: KeyIssueTimes, tokens: VerifiedTokens
    ) throws(RESTError) -> VerifiedTokens.Verified {
        let key = request.header("apikey") ?? FormQuery.pairs(request.rawQuery).first { $0.key == "apikey" }?.value
        guard let key, !key.isEmpty else {
            throw RESTError(
                status: 401, code: "no_api_key", message: "No API key found in request",
                hint: "No `apikey` request header or url param was found.")
        }
        let verified: VerifiedTokens.Verified
        do {
            verified = try tokens.verify(key, secret: secret)
        } catch {
            throw RESTError(
                status: 401, code: "invalid_api_key", message: "Invalid API key",
                hint: "Double check your `anon` or `service_role` API key (`branch keys`).")
        }
        guard current.accepts(verified.claims) else { throw revokedKey }
        return verified
    }

    /// A key whose role was re-issued (`branch keys revoke`): its signature is good, but it is not current.
    static var revokedKey: RESTError {
        RESTError(
            status: 401, code: "invalid_api_key", message: "Invalid API key: this key was revoked",
            hint: "Use the project's current keys (`branch keys`).")
    }

    /// The role and claims a REST request runs with: the bearer token's when there is one, else
    /// the API key's. A bad token is PostgREST's PGRST301, an expired one PGRST303.
    static func identity(
        of request: DataRequest, apiKey: VerifiedTokens.Verified, secret: [UInt8], current: KeyIssueTimes, tokens: VerifiedTokens
    ) throws(RESTError) -> RequestIdentity {
        var verified = apiKey
        if let authorization = request.header("authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else {
                throw RESTError(status: 401, code: "PGRST301", message: "Expected a Bearer token in the Authorization header")
            }
            do {
                verified = try tokens.verify(String(parts[1]), secret: secret)
            } catch .expired {
                var error = RESTError(status: 401, code: "PGRST303", message: "JWT expired")
                error.headers = [("WWW-Authenticate", #"Bearer error="invalid_token", error_description="JWT expired""#)]
                throw error
            } catch {
                var failure = RESTError(status: 401, code: "PGRST301", message: Self.refusal(error))
                failure.headers = [("WWW-Authenticate", #"Bearer error="invalid_token", error_description="invalid JWT""#)]
                throw failure
            }
            guard current.accepts(verified.claims) else { throw revokedKey }
        }
        return RequestIdentity(role: try RoleClaim.role(of: verified.claims), claimsJSON: verified.claimsJSON)
    }

    /// Why a bearer token was refused, in PostgREST's words where it has some.
    static func refusal(_ error: JWTError) -> String {
        switch error {
        case .badSignature: "JWSError JWSInvalidSignature"
        case .malformed: "JWSError (CompactDecodeError Invalid number of parts)"
        case .unsupportedAlgorithm: "JWSError JWSUnsupportedAlgorithm: only HS256 tokens are accepted"
        case .missingExpiry: "JWT has no exp claim: tokens must expire"
        case .notYetValid: "JWT not yet valid"
        case .expired: "JWT expired"
        }
    }
}
