import BranchPostgres
import BranchREST

/// The flows that mail a link and a code: `POST /otp` (passwordless sign-in), `POST /recover`
/// (password reset) and `POST /resend`. They answer `{}` whether or not the address has a user
/// where GoTrue does, so they do not tell strangers who has signed up.
enum EmailEndpoints {
    /// `POST /otp {"email","create_user","data"}`: a magic link and code to the address. A new
    /// address (with `create_user`, the default, and sign-ups open) gets an unconfirmed user and a
    /// confirmation, which signs in the same way.
    static func otp(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        guard let rawEmail = input.string("email") else {
            if input.string("phone") != nil { throw AuthFailure.phoneDisabled }
            throw AuthFailure.validation("An email address or phone number is required")
        }
        let email = try AuthInput.validEmail(rawEmail)
        guard context.policy.mailer != nil else { throw AuthFailure.emailSendingDisabled }
        let createUser = try input.bool("create_user") ?? true
        let pkce = try PKCEChallenge.from(input)
        let metadata = try input.object("data") ?? [:]
        let redirect = context.policy.redirect(input.query("redirect_to"))
        do {
            try await context.database.transaction { connection in
                if let user = try await EmailTokens.user(email: email, on: connection) {
                    if user.banned { throw AuthFailure.userBanned }
                    try await EmailTokens.send(
                        user.confirmed ? .magiclink : .signup, to: email, userID: user.id, redirect: redirect, pkce: pkce, context: context,
                        on: connection)
                    return
                }
                guard createUser else { throw AuthFailure(422, "otp_disabled", "Signups not allowed for otp") }
                guard context.policy.allowSignup else { throw AuthFailure.signupDisabled }
                let user = NewUser(
                    email: email, password: nil, emailConfirmed: false,
                    appMetadata: NewUser.appMetadata(email: email, phone: nil, merging: [:]), userMetadata: metadata)
                let userID = try await user.insert(on: connection)
                try await EmailTokens.send(.signup, to: email, userID: userID, redirect: redirect, pkce: pkce, context: context, on: connection)
            }
        } catch {
            throw UserRecords.duplicate(error, email: .userAlreadyExists) ?? error
        }
        return AuthReply.json(200, "{}")
    }

    /// `POST /recover {"email"}`: a password-reset link and code, when the address has a user.
    static func recover(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        guard let rawEmail = input.string("email") else { throw AuthFailure.validation("Password recovery requires an email") }
        let email = try AuthInput.validEmail(rawEmail)
        guard context.policy.mailer != nil else { throw AuthFailure.emailSendingDisabled }
        let redirect = context.policy.redirect(input.query("redirect_to"))
        let pkce = try PKCEChallenge.from(input)
        try await context.database.transaction { connection in
            guard let user = try await EmailTokens.user(email: email, on: connection), !user.banned else { return }
            try await EmailTokens.send(.recovery, to: email, userID: user.id, redirect: redirect, pkce: pkce, context: context, on: connection)
        }
        return AuthReply.json(200, "{}")
    }

    /// `POST /resend {"type":"signup"|"email_change","email"}`: the pending confirmation again.
    static func resend(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let type = input.string("type") ?? ""
        guard type == "signup" || type == "email_change" else {
            if type == "sms" || type == "phone_change" { throw AuthFailure.phoneDisabled }
            throw AuthFailure.validation("Missing one of these types: signup, email_change, sms, phone_change")
        }
        guard let rawEmail = input.string("email") else { throw AuthFailure.validation("An email address is required") }
        let email = try AuthInput.validEmail(rawEmail)
        guard context.policy.mailer != nil else { throw AuthFailure.emailSendingDisabled }
        let redirect = context.policy.redirect(input.query("redirect_to"))
        try await context.database.transaction { connection in
            guard let user = try await EmailTokens.user(email: email, on: connection), !user.banned else { return }
            if type == "signup" {
                guard !user.confirmed else { return }
                try await EmailTokens.send(.signup, to: email, userID: user.id, redirect: redirect, context: context, on: connection)
            } else {
                guard let newEmail = try await connection.query(
                    "select nullif(email_change, '') from auth.users where id = $1::uuid", [user.id]
                ).scalar else { return }
                try await EmailTokens.sendEmailChange(
                    from: email, to: newEmail, atCurrent: context.policy.secureEmailChange, userID: user.id, redirect: redirect, context: context,
                    on: connection)
            }
        }
        return AuthReply.json(200, "{}")
    }
}
