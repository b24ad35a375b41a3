import Foundation

/// The branch's auth admin API (GoTrue's `/admin/users`), reached through the gateway with the
/// project's service_role key: the console creates, bans and deletes users exactly as the auth
/// module does for supabase-js (bcrypt through pgcrypto, sessions ended on a ban), never by
/// writing `auth.users` itself.
struct AuthAdminClient: Sendable {
    let environment: ConsoleEnvironment
    let project: String
    let branch: String

    struct User: Sendable {
        var id: String
        var email: String
        var phone: String
        var providers: String
        var created: String
        var lastSignIn: String
        var confirmed: Bool
        var banned: Bool
        var bannedUntil: String
    }

    /// The JSON answer of a 2xx, else a `ConsoleFailure` with the auth API's message and code.
    func send(_ method: String, _ path: String, query: String = "", json: [String: Any]? = nil, changes: Bool = false) async throws -> Any {
        let session = try ConsoleSession.required()
        let body = try json.map { Array(try JSONSerialization.data(withJSONObject: $0)) } ?? []
        let answer = try await environment.gateway.authAdmin(
            project: project, branch: branch, token: session.token, changes: changes, method: method, path: path, query: query, body: body)
        let decoded = (try? JSONSerialization.jsonObject(with: Data(answer.body), options: [.fragmentsAllowed])) ?? [:]
        guard (200..<300).contains(answer.status) else {
            let object = decoded as? [String: Any]
            let message = (object?["msg"] ?? object?["message"]) as? String ?? "The auth API answered \(answer.status)."
            let code = (object?["error_code"] ?? object?["code"]).map { "\($0)" } ?? "auth_error"
            throw ConsoleFailure(status: answer.status, code: code, message: message)
        }
        return decoded
    }

    /// One page of users (50), newest first; `filter` matches email (and full name), `provider`
    /// keeps those with that identity (email, phone, github…).
    func users(filter: String, provider: String, page: Int) async throws -> [User] {
        var query = "page=\(page)&per_page=50"
        if !filter.isEmpty { query += "&filter=" + FormFields.encode(filter) }
        if !provider.isEmpty { query += "&provider=" + FormFields.encode(provider) }
        let answer = try await send("GET", "/admin/users", query: query) as? [String: Any]
        let list = answer?["users"] as? [[String: Any]] ?? []
        return list.map { user in
            let metadata = user["app_metadata"] as? [String: Any]
            let providers = (metadata?["providers"] as? [String])?.joined(separator: ", ") ?? (metadata?["provider"] as? String) ?? ""
            let bannedUntil = user["banned_until"] as? String
            let banned = bannedUntil.flatMap(Formatting.instant).map { $0 > Date() } ?? false
            return User(
                id: user["id"] as? String ?? "", email: user["email"] as? String ?? "", phone: user["phone"] as? String ?? "", providers: providers,
                created: (user["created_at"] as? String).map(Formatting.utc) ?? "",
                lastSignIn: (user["last_sign_in_at"] as? String).map { Formatting.age($0) } ?? "never",
                confirmed: user["email_confirmed_at"] is String || user["phone_confirmed_at"] is String,
                banned: banned, bannedUntil: banned ? bannedUntil.map(Formatting.utc) ?? "" : "")
        }
    }
}
