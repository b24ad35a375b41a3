import BranchPostgres
import BranchREST

/// `POST /signup {"email","password","data"}`: a new email user; with auto-confirm (the default) it
/// is confirmed and signed in (200 session), else it waits for confirmation (200 user).
enum SignUpEndpoint {
    /// Validates, creates the user and its email identity, and answers a session or the user.
    static func handle(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        guard let rawEmail = input.string("email") else {
            if input.string("phone") != nil { throw AuthFailure.phoneDisabled }
            throw AuthFailure.validation("To signup, please provide your email")
        }
        let email = try AuthInput.validEmail(rawEmail)
        guard let password = input.string("password") else { throw AuthFailure.validation("Signup requires a valid password", status: 422) }
        try AuthInput.checkPassword(password)
        let user = NewUser(
            email: email, password: password, emailConfirmed: context.autoConfirm,
            appMetadata: NewUser.appMetadata(email: email, phone: nil, merging: [:]), userMetadata: try input.object("data") ?? [:])
        do {
            let body = try await context.database.transaction { connection in
                if try await UserRecords.taken(email: email, phone: nil, except: nil, on: connection) != nil {
                    throw AuthFailure.userAlreadyExists
                }
                let userID = try await user.insert(on: connection)
                guard user.emailConfirmed else {
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
