import BranchCore
import BranchPostgres
import BranchREST
import Foundation

/// `/verify`: redeeming a mailed token. `POST {"type","email","token"}` (the typed code) or
/// `POST {"type","token_hash"}` answers a session; `GET ?token=…&type=…&redirect_to=…` (the mailed
/// link) redirects to the app with the session in the fragment, as GoTrue's implicit flow does, or
/// with `error=access_denied&error_code=otp_expired`. A token works once, until it expires. An
/// email change mailed to both addresses (secure email change) applies at the second of its two
/// tokens; the first answers GoTrue's `singleConfirmationAccepted` message instead of a session.
/// Failures count towards the sign-in limits of the client's address (and of the email, when given):
/// a six-digit code must not be guessable by trying.
enum VerifyEndpoint {
    static func post(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        guard let type = input.string("type") else { throw AuthFailure.validation("Verify requires a verification type") }
        let columns = try columns(for: type)
        let hash: String
        let email: String?
        if let tokenHash = input.string("token_hash") {
            hash = tokenHash.lowercased()
            email = nil
        } else {
            guard let token = input.string("token"), let rawEmail = input.string("email") else {
                throw AuthFailure.validation("Verify requires either a token hash or an email and a token")
            }
            email = try AuthInput.validEmail(rawEmail)
            hash = EmailToken.hash(email: email!, code: token.trimmingCharacters(in: .whitespaces), key: context.jwtSecret)
        }
        let session = try await redeem(hash: hash, email: email, columns: columns, input: input, context: context) { userID, _, _, connection in
            try await Sessions.start(userID: userID, input: input, context: context, on: connection)
        }
        guard let session else {
            return AuthReply.json(200, JSONText.encode(.object(["msg": .string(singleConfirmationAccepted), "code": .integer(200)])))
        }
        return AuthReply.json(200, session)
    }

    static func get(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let type = input.query("type") ?? ""
        let target = context.policy.redirect(input.query("redirect_to"))
        do {
            // A PKCE link ends in a code for the client that holds the verifier; any other in the session.
            let outcome = try await redeem(
                hash: (input.query("token") ?? "").lowercased(), email: nil, columns: columns(for: type), input: input, context: context
            ) { userID, pkce, column, connection -> LinkOutcome in
                guard pkce else { return .session(try await Sessions.start(userID: userID, input: input, context: context, on: connection)) }
                guard let code = try await PKCEChallenge.issueCode(
                    userID: userID, methods: PKCEChallenge.methods(storedIn: column), within: context.policy.otpExpirySeconds, on: connection)
                else {
                    throw AuthFailure(404, "flow_state_not_found", "invalid flow state, no valid flow state found")
                }
                return .code(code)
            }
            switch outcome {
            case nil:
                return AuthReply.redirect(to: target, fragment: [("message", singleConfirmationAccepted)])
            case .code(let code)?:
                return AuthReply.redirect(to: target, query: [("code", code)])
            case .session(let session)?:
                guard let fields = JSONText.decode(session)?.objectValue else { throw AuthFailure.unexpected }
                let pairs = ["access_token", "expires_at", "expires_in", "refresh_token", "token_type"].map { key in
                    (key, fields[key].map { value in value.stringValue ?? JSONText.encode(value) } ?? "")
                } + [("type", type)]
                return AuthReply.redirect(to: target, fragment: pairs)
            }
        } catch let failure as AuthFailure {
            return refused(target, failure)
        }
    }

    /// GoTrue's answer to the first of an email change's two confirmations.
    static let singleConfirmationAccepted = "Confirmation link accepted. Please proceed to confirm link sent to the other email"

    /// The redirect of a link that did not work: GoTrue's error fragment.
    static func refused(_ target: String, _ failure: AuthFailure = .otpExpired) -> DataResponse {
        let description = failure == .otpExpired ? "Email link is invalid or has expired" : failure.message
        return AuthReply.redirect(to: target, fragment: [("error", "access_denied"), ("error_code", failure.code), ("error_description", description)])
    }

    /// Where a followed link leads: the session itself, or a PKCE code to exchange for it.
    private enum LinkOutcome: Sendable {
        case session(String)
        case code(String)
    }

    /// The token columns a `type` may redeem.
    private static func columns(for type: String) throws(AuthFailure) -> [String] {
        switch type {
        case "email", "signup", "magiclink", "invite": ["confirmation_token", "recovery_token"]
        case "recovery": ["recovery_token"]
        case "email_change": ["email_change_token_new", "email_change_token_current"]
        case "sms", "phone_change": throw AuthFailure.phoneDisabled
        default: throw AuthFailure.validation("Verify requires a verification type")
        }
    }

    /// Finds the user whose pending token is `hash` (stored plain or PKCE-marked), checks it is
    /// fresh, applies what it confirms and clears it; then `finish` (a session, or a PKCE code) in
    /// the same transaction. Nil when it was one of an email change's two tokens and the other is
    /// still pending: that one is marked confirmed, and nothing else happens yet.
    private static func redeem<T: Sendable>(
        hash: String, email: String?, columns: [String], input: AuthInput, context: AuthContext,
        finish: @escaping @Sendable (_ userID: String, _ pkce: Bool, _ column: String, PGConnection) async throws -> T
    ) async throws -> T? {
        // Anything but a hash is refused before it is counted (the limiter keeps what it counts).
        guard EmailToken.isHash(hash) else { throw AuthFailure.otpExpired }
        let scope = context.project
        let address = input.request.clientAddress
        // With a hash and no email, only the address is limited: the hash itself as the "email" key never repeats.
        let limitKey = "verify:" + (email ?? hash)
        guard await context.limiter.allows(scope: scope, email: limitKey, address: address, now: context.now()) else {
            throw AuthFailure.overRateLimit
        }
        do {
            let result = try await context.database.transaction { connection -> T? in
                let found = try await connection.query(
                    """
                    select u.id::text, t.kind, coalesce(t.sent_at > now() - make_interval(secs => $2::int), false),
                           coalesce(u.banned_until > now(), false), nullif(u.email_change, ''), t.token = '\(PKCEChallenge.tokenPrefix)' || $1,
                           coalesce(u.email_change_token_new, '') <> '', coalesce(u.email_change_token_current, '') <> ''
                    from auth.users u
                    cross join lateral (values ('confirmation_token', u.confirmation_token, u.confirmation_sent_at),
                                               ('recovery_token', u.recovery_token, u.recovery_sent_at),
                                               ('email_change_token_new', u.email_change_token_new, u.email_change_sent_at),
                                               ('email_change_token_current', u.email_change_token_current, u.email_change_sent_at))
                                        as t(kind, token, sent_at)
                    where u.deleted_at is null and t.token in ($1, '\(PKCEChallenge.tokenPrefix)' || $1) and t.kind = any($3::text[])
                      and ($4::text is null or lower(case when t.kind = 'email_change_token_new' then u.email_change else u.email end) = $4)
                    limit 1
                    for update of u
                    """,
                    [hash, String(context.policy.otpExpirySeconds), "{\(columns.joined(separator: ","))}", email])
                guard let row = found.rows.first, let userID = row[0], let column = row[1], row[2] == "t" else { throw AuthFailure.otpExpired }
                if row[3] == "t" { throw AuthFailure.userBanned }
                if column.hasPrefix("email_change_token_") {
                    guard let newEmail = row[4] else { throw AuthFailure.otpExpired }
                    let otherPending = column == "email_change_token_new" ? row[7] == "t" : row[6] == "t"
                    if otherPending {
                        // One address confirmed; the change waits for the other (GoTrue's singleConfirmation).
                        try await connection.query(
                            "update auth.users set \(column) = '', email_change_confirm_status = 1, updated_at = now() where id = $1::uuid", [userID])
                        return nil
                    }
                    if let taken = try await UserRecords.taken(email: newEmail, phone: nil, except: userID, on: connection) { throw taken }
                    try await connection.query(
                        """
                        update auth.users set email = email_change, email_change = '', email_change_token_new = '', email_change_token_current = '',
                          email_change_confirm_status = 0, email_confirmed_at = now(), last_sign_in_at = now(), updated_at = now()
                        where id = $1::uuid
                        """,
                        [userID])
                    try await UserRecords.saveIdentity(userID: userID, provider: "email", value: newEmail, verified: true, on: connection)
                } else {
                    try await connection.query(
                        """
                        update auth.users set \(column) = '', email_confirmed_at = coalesce(email_confirmed_at, now()),
                          last_sign_in_at = now(), updated_at = now() where id = $1::uuid
                        """,
                        [userID])
                    try await connection.query(
                        """
                        update auth.identities set identity_data = identity_data || '{"email_verified": true}'::jsonb, last_sign_in_at = now(),
                          updated_at = now() where user_id = $1::uuid and provider = 'email'
                        """,
                        [userID])
                }
                return try await finish(userID, row[5] == "t", column, connection)
            }
            if let email { await context.limiter.recordSuccess(scope: scope, email: "verify:" + email) }
            return result
        } catch let failure as AuthFailure where failure == .otpExpired {
            await context.limiter.recordFailure(scope: scope, email: limitKey, address: address, now: context.now())
            throw failure
        }
    }
}
