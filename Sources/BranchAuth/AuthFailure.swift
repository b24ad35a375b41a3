/// A GoTrue error answer: HTTP status, snake_case code and message.
///
/// The body carries the code both as `code` (read by clients when the response has
/// `X-Supabase-Api-Version: 2024-01-01`) and `error_code` (older clients), and the message both as
/// `msg` (what GoTrue sends, read first by every client) and `message`.
struct AuthFailure: Error, Sendable, Equatable {
    var status: Int
    var code: String
    var message: String
    /// For `weak_password`: why (`length`), as `{"weak_password":{"reasons":[…]}}`.
    var weakPasswordReasons: [String]? = nil

    init(_ status: Int, _ code: String, _ message: String, weakPasswordReasons: [String]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.weakPasswordReasons = weakPasswordReasons
    }

    /// The JSON body.
    var body: String {
        var fields = [
            ("code", JSONText.string(code)), ("error_code", JSONText.string(code)),
            ("msg", JSONText.string(message)), ("message", JSONText.string(message)),
        ]
        if let weakPasswordReasons {
            fields.append(("weak_password", JSONText.object([("reasons", JSONText.array(weakPasswordReasons.map(JSONText.string)))])))
        }
        return JSONText.object(fields)
    }

    // MARK: The failures the endpoints answer

    static let invalidCredentials = AuthFailure(400, "invalid_credentials", "Invalid login credentials")
    static let emailNotConfirmed = AuthFailure(400, "email_not_confirmed", "Email not confirmed")
    static let phoneNotConfirmed = AuthFailure(400, "phone_not_confirmed", "Phone not confirmed")
    static let userBanned = AuthFailure(400, "user_banned", "User is banned")
    static let refreshTokenNotFound = AuthFailure(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found")
    static let userAlreadyExists = AuthFailure(422, "user_already_exists", "User already registered")
    static let emailExists = AuthFailure(422, "email_exists", "A user with this email address has already been registered")
    static let phoneExists = AuthFailure(422, "phone_exists", "A user with this phone number has already been registered")
    static let samePassword = AuthFailure(422, "same_password", "New password should be different from the old password.")
    static let noAuthorization = AuthFailure(401, "no_authorization", "This endpoint requires a Bearer token")
    static let notAdmin = AuthFailure(403, "not_admin", "User not allowed")
    static let userNotFound = AuthFailure(404, "user_not_found", "User not found")
    static let missingSub = AuthFailure(403, "bad_jwt", "invalid claim: missing sub claim")
    static let sessionNotFound = AuthFailure(403, "session_not_found", "Session from session_id claim in JWT does not exist")
    static let tokenUserNotFound = AuthFailure(403, "user_not_found", "User from sub claim in JWT does not exist")
    static let overRateLimit = AuthFailure(429, "over_request_rate_limit", "Request rate limit reached")
    static let phoneDisabled = AuthFailure(400, "phone_provider_disabled", "Phone signups are disabled")
    static let notFound = AuthFailure(404, "not_found", "Not Found")
    static let methodNotAllowed = AuthFailure(405, "method_not_allowed", "Method Not Allowed")
    static let unexpected = AuthFailure(500, "unexpected_failure", "Unexpected failure, please check server logs for more information")
    static let unavailable = AuthFailure(503, "unexpected_failure", "The database is unavailable, please try again")

    /// A bearer token that did not verify, with golang-jwt's reason.
    static func badJWT(_ reason: String) -> AuthFailure {
        AuthFailure(403, "bad_jwt", "invalid JWT: unable to parse or verify signature, \(reason)")
    }

    /// Input GoTrue refuses before looking at any data.
    static func validation(_ message: String, status: Int = 400) -> AuthFailure {
        AuthFailure(status, "validation_failed", message)
    }

    /// A body that is not a JSON object.
    static func badJSON(_ reason: String) -> AuthFailure {
        AuthFailure(400, "bad_json", "Could not parse request body as JSON: \(reason)")
    }

    /// A password shorter than `minimumLength`.
    static func weakPassword(minimumLength: Int) -> AuthFailure {
        AuthFailure(422, "weak_password", "Password should be at least \(minimumLength) characters.", weakPasswordReasons: ["length"])
    }
}
