import BranchCore
import BranchPostgres
import BranchREST

/// The service_role's email flows: `POST /invite` mails an invitation, `POST /admin/generate_link`
/// makes a link and code without mailing them (for apps that send their own mail; it works on
/// projects with no mail server).
enum InviteEndpoints {
    /// `POST /invite {"email","data"}`: a user, invited and unconfirmed, and the invitation mailed.
    static func invite(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        guard try BearerToken(input, context: context).isAdmin else { throw AuthFailure.notAdmin }
        guard let rawEmail = input.string("email") else { throw AuthFailure.validation("An email address is required") }
        let email = try AuthInput.validEmail(rawEmail)
        guard context.policy.mailer != nil else { throw AuthFailure.emailSendingDisabled }
        let metadata = try input.object("data") ?? [:]
        let redirect = context.policy.redirect(input.query("redirect_to"))
        do {
            let body = try await context.database.transaction { connection in
                let userID = try await invited(email: email, metadata: metadata, on: connection)
                try await EmailTokens.send(.invite, to: email, userID: userID, redirect: redirect, context: context, on: connection)
                guard let json = try await UserRecords.json(id: userID, on: connection) else { throw AuthFailure.unexpected }
                return json
            }
            return AuthReply.json(200, body)
        } catch {
            throw UserRecords.duplicate(error) ?? error
        }
    }

    /// `POST /admin/generate_link {"type","email","password","data"}`: the user (made for `signup`
    /// and `invite`) with `action_link`, `email_otp`, `hashed_token`, `redirect_to` and
    /// `verification_type`, as supabase-js's `generateLink` reads them.
    static func generateLink(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        guard try BearerToken(input, context: context).isAdmin else { throw AuthFailure.notAdmin }
        guard let kind = input.string("type").flatMap(EmailTokenKind.init(rawValue:)), kind != .emailChange else {
            throw AuthFailure.validation("Invalid email action link type requested: use signup, invite, magiclink or recovery", status: 422)
        }
        guard let rawEmail = input.string("email") else { throw AuthFailure.validation("An email address is required", status: 422) }
        let email = try AuthInput.validEmail(rawEmail)
        let password = input.string("password")
        if kind == .signup {
            guard let password else { throw AuthFailure.validation("Signup requires a valid password", status: 422) }
            try AuthInput.checkPassword(password)
        }
        let metadata = try input.object("data") ?? [:]
        let redirect = context.policy.redirect(input.query("redirect_to"))
        do {
            let body = try await context.database.transaction { connection in
                let userID: String
                switch kind {
                case .signup:
                    if try await EmailTokens.user(email: email, on: connection) != nil { throw AuthFailure.emailExists }
                    userID = try await NewUser(
                        email: email, password: password, emailConfirmed: false,
                        appMetadata: NewUser.appMetadata(email: email, phone: nil, merging: [:]), userMetadata: metadata
                    ).insert(on: connection)
                case .invite:
                    userID = try await invited(email: email, metadata: metadata, on: connection)
                default:
                    guard let user = try await EmailTokens.user(email: email, on: connection) else { throw AuthFailure.userNotFound }
                    userID = user.id
                }
                let token = EmailToken.issue(for: email, key: context.jwtSecret)
                try await EmailTokens.store(token, kind: kind, userID: userID, on: connection)
                guard let json = try await UserRecords.json(id: userID, on: connection), case .object(var user)? = JSONText.decode(json) else {
                    throw AuthFailure.unexpected
                }
                user["action_link"] = .string(EmailTokens.link(token, kind: kind, redirect: redirect, context: context))
                user["email_otp"] = .string(token.code)
                user["hashed_token"] = .string(token.hash)
                user["redirect_to"] = .string(redirect)
                user["verification_type"] = .string(kind.rawValue)
                return JSONText.encode(.object(user))
            }
            return AuthReply.json(200, body)
        } catch {
            throw UserRecords.duplicate(error) ?? error
        }
    }

    /// The user an invitation is for: a new one, or one invited before who has not accepted yet
    /// (a confirmed user is `email_exists`).
    private static func invited(email: String, metadata: [String: JSONValue], on connection: PGConnection) async throws -> String {
        let userID: String
        if let user = try await EmailTokens.user(email: email, on: connection) {
            guard !user.confirmed else { throw AuthFailure.emailExists }
            userID = user.id
        } else {
            userID = try await NewUser(
                email: email, password: nil, emailConfirmed: false,
                appMetadata: NewUser.appMetadata(email: email, phone: nil, merging: [:]), userMetadata: metadata
            ).insert(on: connection)
        }
        try await connection.query("update auth.users set invited_at = now(), updated_at = now() where id = $1::uuid", [userID])
        return userID
    }
}
