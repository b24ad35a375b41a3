import BranchCore
import BranchPostgres
import BranchREST

/// `GET /user` and `PUT /user` with the user's access token: who is signed in, and changing their
/// email, password or metadata (`data`, merged into user_metadata).
enum UserEndpoint {
    /// `GET /user`: the signed-in user.
    static func get(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let bearer = try BearerToken(input, context: context)
        let userID = try bearer.userID()
        let body = try await context.database.transaction { connection in
            try await signedInUser(userID: userID, sessionID: bearer.sessionID, on: connection)
        }
        return AuthReply.json(200, body)
    }

    /// `PUT /user {"email","password","data"}`: the updated user.
    static func update(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let bearer = try BearerToken(input, context: context)
        let userID = try bearer.userID()
        if input.string("phone") != nil { throw AuthFailure(400, "phone_provider_disabled", "Phone changes are not supported") }
        let email = try input.string("email").map(AuthInput.validEmail)
        let password = input.string("password")
        if let password { try AuthInput.checkPassword(password) }
        let data = try input.object("data")
        let autoConfirm = context.autoConfirm
        let redirect = context.policy.redirect(input.query("redirect_to"))
        do {
            let body = try await context.database.transaction { connection in
                _ = try await signedInUser(userID: userID, sessionID: bearer.sessionID, on: connection)
                var update = UserUpdate(userID: userID)
                if let password {
                    let same = try await connection.query(
                        "select \(UserRecords.passwordMatches(2, hash: "encrypted_password")) from auth.users where id = $1::uuid", [userID, password])
                    if same.scalar == "t" { throw AuthFailure.samePassword }
                    update.set("encrypted_password", to: password) { UserRecords.hash($0) }
                }
                if let data { update.set("raw_user_meta_data", to: JSONText.encode(.object(data))) { UserRecords.merged("raw_user_meta_data", $0) } }
                var newEmail: String?
                var pendingEmail: String?
                let current = try await connection.query("select nullif(lower(email), '') from auth.users where id = $1::uuid", [userID]).scalar
                if let email, current != email {
                    if let taken = try await UserRecords.taken(email: email, phone: nil, except: userID, on: connection) { throw taken }
                    if autoConfirm {
                        // No mailer to confirm with: the change takes effect at once, as with GoTrue's MAILER_AUTOCONFIRM.
                        update.set("email", to: email)
                        update.set("email_confirmed_at", sql: "now()")
                        update.set("email_change", sql: "''")
                        newEmail = email
                    } else {
                        // The new address confirms the change with the mailed link or code (`type` email_change),
                        // and with secure email change the current one too.
                        update.set("email_change", to: email)
                        pendingEmail = email
                    }
                }
                _ = try await update.run(on: connection)
                if let pendingEmail {
                    try await EmailTokens.sendEmailChange(
                        from: current, to: pendingEmail, atCurrent: context.policy.secureEmailChange, userID: userID, redirect: redirect, context: context,
                        on: connection)
                }
                if let newEmail {
                    try await UserRecords.saveIdentity(userID: userID, provider: "email", value: newEmail, verified: true, on: connection)
                }
                guard let json = try await UserRecords.json(id: userID, on: connection) else { throw AuthFailure.tokenUserNotFound }
                return json
            }
            return AuthReply.json(200, body)
        } catch {
            throw UserRecords.duplicate(error) ?? error
        }
    }

    /// The user an access token names, as long as it and its session still exist.
    static func signedInUser(userID: String, sessionID: String?, on connection: PGConnection) async throws -> String {
        guard let json = try await UserRecords.json(id: userID, on: connection) else { throw AuthFailure.tokenUserNotFound }
        if let sessionID, try await connection.query("select 1 from auth.sessions where id = $1::uuid", [sessionID]).count == 0 {
            throw AuthFailure.sessionNotFound
        }
        return json
    }
}

/// One `update auth.users set … where id = …`, put together from the fields a request changes.
struct UserUpdate: Sendable {
    private(set) var assignments: [String] = []
    private(set) var parameters: [String?]

    init(userID: String) {
        parameters = [userID]
    }

    /// `column = <expression of the new parameter>` (by default the parameter itself).
    mutating func set(_ column: String, to value: String?, _ expression: (Int) -> String = { "$\($0)" }) {
        parameters.append(value)
        assignments.append("\(column) = \(expression(parameters.count))")
    }

    /// `column = <sql>`, a fixed expression.
    mutating func set(_ column: String, sql: String) {
        assignments.append("\(column) = \(sql)")
    }

    /// Runs it (also touching updated_at); returns `email_confirmed_at is not null` and
    /// `phone_confirmed_at is not null` of the updated user, nil when there is no such user.
    func run(on connection: PGConnection) async throws -> (emailConfirmed: Bool, phoneConfirmed: Bool)? {
        let rows = try await connection.query(
            """
            update auth.users set \((assignments + ["updated_at = now()"]).joined(separator: ", "))
            where id = $1::uuid returning email_confirmed_at is not null, phone_confirmed_at is not null
            """,
            parameters)
        guard let row = rows.rows.first else { return nil }
        return (row[0] == "t", row[1] == "t")
    }
}
