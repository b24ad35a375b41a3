import BranchCore
import BranchPostgres
import BranchREST
import Foundation

/// `/admin/users` and `/admin/users/{id}`: managing users with a service_role token (the bearer,
/// verified here, not the apikey).
enum AdminEndpoints {
    /// GoTrue's page size when `per_page` is not given, and the most one page holds here.
    static let defaultPageSize = 50
    static let maximumPageSize = 1000

    /// Checks the caller is an admin, then serves `method` on the users collection (`id` nil) or one user.
    static func handle(_ input: AuthInput, id: String?, context: AuthContext) async throws -> DataResponse {
        let bearer = try BearerToken(input, context: context)
        guard bearer.isAdmin else { throw AuthFailure.notAdmin }
        guard let id else {
            return input.request.method == "POST" ? try await create(input, context: context) : try await list(input, context: context)
        }
        guard let userID = AuthInput.uuid(id) else { throw AuthFailure.validation("user_id must be an UUID") }
        switch input.request.method {
        case "GET": return try await get(userID, context: context)
        case "PUT": return try await update(userID, input, context: context)
        default: return try await delete(userID, input, context: context)
        }
    }

    // MARK: Collection

    /// `POST /admin/users {"email","phone","password","email_confirm","phone_confirm","user_metadata","app_metadata",…}`.
    private static func create(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let email = try input.string("email").map(AuthInput.validEmail)
        let phone = try input.string("phone").map(AuthInput.validPhone)
        guard email != nil || phone != nil else { throw AuthFailure.validation("Cannot create a user without either an email or phone") }
        let password = input.string("password")
        if let password { try AuthInput.checkPassword(password) }
        let user = NewUser(
            id: try input.string("id").map(uuid), role: input.string("role") ?? "authenticated", email: email, phone: phone,
            password: password, passwordHash: try input.string("password_hash").map(bcryptHash),
            emailConfirmed: try input.bool("email_confirm") ?? false, phoneConfirmed: try input.bool("phone_confirm") ?? false,
            appMetadata: NewUser.appMetadata(email: email, phone: phone, merging: try input.object("app_metadata") ?? [:]),
            userMetadata: try input.object("user_metadata") ?? input.object("data") ?? [:],
            bannedFor: try banSeconds(input) ?? nil)
        do {
            let body = try await context.database.transaction { connection in
                if let taken = try await UserRecords.taken(email: email, phone: phone, except: nil, on: connection) { throw taken }
                let userID = try await user.insert(on: connection)
                guard let json = try await UserRecords.json(id: userID, on: connection) else { throw AuthFailure.unexpected }
                return json
            }
            return AuthReply.json(200, body)
        } catch {
            throw UserRecords.duplicate(error) ?? error
        }
    }

    /// `GET /admin/users?page=1&per_page=50[&filter=text][&provider=email]`: `{"users":[…],"aud":"authenticated"}`, newest
    /// first, with GoTrue's `X-Total-Count` and `Link` (next, last) headers that supabase-js reads.
    private static func list(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let page = max(Int(input.query("page") ?? "") ?? 1, 1)
        let perPage = min(max(Int(input.query("per_page") ?? "") ?? defaultPageSize, 1), maximumPageSize)
        let filter = input.query("filter").flatMap { $0.isEmpty ? nil : $0 }
        let pattern = filter.map { "%" + $0.replacing("\\", with: "\\\\").replacing("%", with: "\\%").replacing("_", with: "\\_") + "%" }
        // `provider` (email, phone, …) is Branch's own addition, for the console's filter.
        let provider = input.query("provider").flatMap { $0.isEmpty ? nil : $0 }
        let matching = """
            coalesce(u.aud, 'authenticated') = 'authenticated'
            and ($1::text is null or u.email ilike $1 or u.raw_user_meta_data ->> 'full_name' ilike $1)
            and ($2::text is null or coalesce(u.raw_app_meta_data -> 'providers', '[]'::jsonb) ? $2::text)
            """
        let (users, total) = try await context.database.transaction { connection in
            let total = try await connection.query("select count(*) from auth.users u where \(matching)", [pattern, provider]).scalar.flatMap { Int($0) } ?? 0
            let users = try await connection.query(
                """
                select coalesce(jsonb_agg(page.body order by page.created_at desc nulls last, page.id), '[]'::jsonb)::text
                from (select \(UserRecords.json) as body, u.created_at, u.id from auth.users u where \(matching)
                      order by u.created_at desc nulls last, u.id limit $3 offset $4) page
                """,
                [pattern, provider, String(perPage), String((page - 1) * perPage)]
            ).scalar ?? "[]"
            return (users, total)
        }
        let lastPage = max((total + perPage - 1) / perPage, 1)
        func link(_ page: Int) -> String {
            let extra = (filter.map { "&filter=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? "")
                + (provider.map { "&provider=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? "")
            return "</admin/users?page=\(page)&per_page=\(perPage)\(extra)>"
        }
        let links = (total > page * perPage ? ["\(link(page + 1)); rel=\"next\""] : []) + ["\(link(lastPage)); rel=\"last\""]
        return AuthReply.json(
            200, JSONText.object([("users", users), ("aud", JSONText.string("authenticated"))]),
            headers: [("X-Total-Count", String(total)), ("Link", links.joined(separator: ", "))])
    }

    // MARK: One user

    /// `GET /admin/users/{id}`: the user, or 404 `user_not_found`.
    private static func get(_ userID: String, context: AuthContext) async throws -> DataResponse {
        let body = try await context.database.transaction { connection in
            guard let json = try await UserRecords.json(id: userID, on: connection) else { throw AuthFailure.userNotFound }
            return json
        }
        return AuthReply.json(200, body)
    }

    /// `PUT /admin/users/{id}`: any of email, phone, password, password_hash, email_confirm,
    /// phone_confirm, user_metadata and app_metadata (both merged), role, ban_duration.
    private static func update(_ userID: String, _ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let email = try input.string("email").map(AuthInput.validEmail)
        let phone = try input.string("phone").map(AuthInput.validPhone)
        let password = input.string("password")
        if let password { try AuthInput.checkPassword(password) }
        let passwordHash = try input.string("password_hash").map(bcryptHash)
        let userMetadata = try input.object("user_metadata")
        let appMetadata = try input.object("app_metadata")
        let emailConfirm = try input.bool("email_confirm") ?? false
        let phoneConfirm = try input.bool("phone_confirm") ?? false
        let role = input.string("role")
        let ban = try banSeconds(input)
        do {
            let body = try await context.database.transaction { connection in
                if let taken = try await UserRecords.taken(email: email, phone: phone, except: userID, on: connection) { throw taken }
                var update = UserUpdate(userID: userID)
                if let email { update.set("email", to: email) }
                if let phone { update.set("phone", to: phone) }
                if let password { update.set("encrypted_password", to: password) { UserRecords.hash($0) } }
                if let passwordHash { update.set("encrypted_password", to: passwordHash) }
                if emailConfirm { update.set("email_confirmed_at", sql: "coalesce(email_confirmed_at, now())") }
                if phoneConfirm { update.set("phone_confirmed_at", sql: "coalesce(phone_confirmed_at, now())") }
                if let userMetadata {
                    update.set("raw_user_meta_data", to: JSONText.encode(.object(userMetadata))) { UserRecords.merged("raw_user_meta_data", $0) }
                }
                if let appMetadata {
                    update.set("raw_app_meta_data", to: JSONText.encode(.object(appMetadata))) { UserRecords.merged("raw_app_meta_data", $0) }
                }
                if let role { update.set("role", to: role) }
                if let ban {
                    update.set("banned_until", to: ban.map { String($0) }) { "case when $\($0)::float8 is not null then now() + make_interval(secs => $\($0)::float8) end" }
                }
                guard let confirmed = try await update.run(on: connection) else { throw AuthFailure.userNotFound }
                if let email {
                    try await UserRecords.saveIdentity(userID: userID, provider: "email", value: email, verified: confirmed.emailConfirmed, on: connection)
                }
                if let phone {
                    try await UserRecords.saveIdentity(userID: userID, provider: "phone", value: phone, verified: confirmed.phoneConfirmed, on: connection)
                }
                if case .some(.some) = ban {
                    // A banned user's sessions end now.
                    try await connection.query("delete from auth.sessions where user_id = $1::uuid", [userID])
                }
                guard let json = try await UserRecords.json(id: userID, on: connection) else { throw AuthFailure.userNotFound }
                return json
            }
            return AuthReply.json(200, body)
        } catch {
            throw UserRecords.duplicate(error) ?? error
        }
    }

    /// `DELETE /admin/users/{id} {"should_soft_delete":false}`: 200 `{}`. A soft delete keeps the row
    /// (deleted_at set, email, phone, password and metadata cleared, identities removed), as GoTrue does.
    private static func delete(_ userID: String, _ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let soft = try input.bool("should_soft_delete") ?? false
        try await context.database.transaction { connection in
            let deleted: PGRows
            if soft {
                deleted = try await connection.query(
                    """
                    update auth.users set deleted_at = now(), updated_at = now(), email = null, phone = null, encrypted_password = '',
                      raw_user_meta_data = '{}'::jsonb, raw_app_meta_data = '{}'::jsonb, email_change = '', phone_change = ''
                    where id = $1::uuid and deleted_at is null returning id
                    """,
                    [userID])
                try await connection.query("delete from auth.identities where user_id = $1::uuid", [userID])
                try await connection.query("delete from auth.sessions where user_id = $1::uuid", [userID])
            } else {
                deleted = try await connection.query("delete from auth.users where id = $1::uuid returning id", [userID])
            }
            guard deleted.count > 0 else { throw AuthFailure.userNotFound }
            // Refresh tokens from before sessions existed hang on the user id alone.
            try await connection.query("delete from auth.refresh_tokens where user_id = $1", [userID])
        }
        return AuthReply.json(200, "{}")
    }

    // MARK: Fields

    /// A user id chosen by the admin (`id`), in canonical form.
    private static func uuid(_ text: String) throws(AuthFailure) -> String {
        guard let id = AuthInput.uuid(text) else { throw .validation("id must be a valid UUID") }
        return id
    }

    /// A bcrypt hash to store as it is (what Supabase accepts and pgcrypto can check).
    private static func bcryptHash(_ text: String) throws(AuthFailure) -> String {
        guard ["$2a$", "$2b$", "$2y$"].contains(String(text.prefix(4))), text.utf8.count == 60 else {
            throw .validation("Invalid password hash format: only bcrypt hashes are supported")
        }
        return text
    }

    /// `ban_duration`: absent → nil; `"none"` → .some(nil) (lift the ban); a Go duration → seconds.
    private static func banSeconds(_ input: AuthInput) throws(AuthFailure) -> Double?? {
        guard let text = input.string("ban_duration") else { return nil }
        if text == "none" { return .some(nil) }
        guard let seconds = GoDuration.seconds(text), seconds >= 0 else {
            throw .validation("invalid format for ban duration: time: invalid duration \"\(text)\"")
        }
        return .some(seconds)
    }
}
