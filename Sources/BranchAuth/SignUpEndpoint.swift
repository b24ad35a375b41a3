import BranchPostgres
import BranchREST

/// `POST /signup {"email","password","data"}`: a new email user; with auto-confirm (the default) it
/// is confirmed and signed in (200 session), else it is mailed a confirmation and waits for it
/// (200 user). Signing up again before confirming mails the confirmation again.
enum SignUpEndpoint {
    /// Validates, creates the user and its email identity, and answers a session or the user.
    static func handle(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        guard let rawEmail = input.string("email") else {
            if input.string("phone") != nil { throw AuthFailure.phoneDisabled }
            throw AuthFailure.validation("To signup, please provide your email")
        }
        guard context.policy.allowSignup else { throw AuthFailure.signupDisabled }
        let email = try AuthInput.validEmail(rawEmail)
        guard let password = input.string("password") else { throw AuthFailure.validation("Signup requires a valid password", status: 422) }
        try AuthInput.checkPassword(password)
        let user = NewUser(
            email: email, password: password, emailConfirmed: context.autoConfirm,
            appMetadata: NewUser.appMetadata(email: email, phone: nil, merging: [:]), userMetadata: try input.object("data") ?? [:])
        if !user.emailConfirmed, context.policy.mailer == nil { throw AuthFailure.emailSendingDisabled }
        let redirect = context.policy.redirect(input.query("redirect_to"))
        let pkce = try PKCEChallenge.from(input)
        do {
            let body = try await context.database.transaction { connection in
                if let existing = try await EmailTokens.user(email: email, on: connection) {
                    guard !user.emailConfirmed else { throw AuthFailure.userAlreadyExists }
                    // With confirmation on, GoTrue answers for a taken address as for a new one (a
                    // made-up user with no identities), so sign-up does not tell who has an account.
                    guard !existing.confirmed, !existing.banned else { return UserRecords.obfuscated(email: email, metadata: user.userMetadata) }
                    try await EmailTokens.send(.signup, to: email, userID: existing.id, redirect: redirect, pkce: pkce, context: context, on: connection)
                    guard let json = try await UserRecords.json(id: existing.id, on: connection) else { throw AuthFailure.unexpected }
                    return json
                }
                let userID = try await user.insert(on: connection)
                guard user.emailConfirmed else {
                    try await EmailTokens.send(.signup, to: email, userID: userID, redirect: redirect, pkce: pkce, context: context, on: connection)
                    guard let json = try await UserRecords.json(id: userID, on: connection) else { throw AuthFailure.unexpected }
                    return json
                }
                try await connection.query("update auth.users set last_sign_in_at = now() where id = $1::uuid", [userID])
                return try await Sessions.start(userID: userID, input: input, context: context, on: connection)
            }
            return AuthReply.json(200, body)
        } catch {
            throw UserRecords.duplicate(error, email: .userAlreadyExists) ?? error
        }
    }
}
