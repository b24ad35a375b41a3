import BranchCore
import BranchPostgres
import Foundation

/// SQL over `auth.users` and `auth.identities` that the endpoints share. User objects are built in
/// Postgres, with timestamps in ISO 8601 (`2024-01-01T12:00:00.123456Z`, whatever the session's
/// time zone), as GoTrue sends them; pydantic refuses Postgres' own text form.
enum UserRecords {
    /// GoTrue's instance id for every row it writes.
    static let instanceID = "00000000-0000-0000-0000-000000000000"

    /// A timestamptz expression as ISO 8601 text in UTC (NULL stays NULL).
    static func iso(_ expression: String) -> String {
        "to_char((\(expression)) at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }

    /// The user object of row `u`, as GoTrue shapes it; optional fields only when set.
    static let json = """
        jsonb_build_object(
          'id', u.id,
          'aud', coalesce(u.aud, ''),
          'role', coalesce(u.role, ''),
          'email', coalesce(u.email, ''),
          'email_confirmed_at', \(iso("u.email_confirmed_at")),
          'phone', coalesce(u.phone, ''),
          'confirmed_at', \(iso("u.confirmed_at")),
          'last_sign_in_at', \(iso("u.last_sign_in_at")),
          'app_metadata', coalesce(u.raw_app_meta_data, '{}'::jsonb),
          'user_metadata', coalesce(u.raw_user_meta_data, '{}'::jsonb),
          'identities', coalesce((
            select jsonb_agg(jsonb_build_object(
                'identity_id', i.id,
                'id', i.provider_id,
                'user_id', i.user_id,
                'identity_data', i.identity_data,
                'provider', i.provider,
                'last_sign_in_at', \(iso("coalesce(i.last_sign_in_at, i.created_at)")),
                'created_at', \(iso("coalesce(i.created_at, i.updated_at, u.created_at, now())")),
                'updated_at', \(iso("i.updated_at")),
                'email', i.email) order by i.created_at, i.id)
            from auth.identities i where i.user_id = u.id), '[]'::jsonb),
          'created_at', \(iso("coalesce(u.created_at, u.updated_at, now())")),
          'updated_at', \(iso("u.updated_at")),
          'is_anonymous', coalesce(u.is_anonymous, false)
        ) || jsonb_strip_nulls(jsonb_build_object(
          'phone_confirmed_at', \(iso("u.phone_confirmed_at")),
          'confirmation_sent_at', \(iso("u.confirmation_sent_at")),
          'new_email', nullif(u.email_change, ''),
          'email_change_sent_at', \(iso("u.email_change_sent_at")),
          'invited_at', \(iso("u.invited_at")),
          'banned_until', \(iso("u.banned_until"))
        ))
        """

    /// A user that does not exist, shaped as a fresh unconfirmed one with no identities (what
    /// GoTrue answers a sign-up for a taken address; supabase-js reads `identities: []` as "taken").
    static func obfuscated(email: String, metadata: [String: JSONValue]) -> String {
        let now = ISO8601DateFormatter().string(from: Date())
        return JSONText.encode(.object([
            "id": .string(UUID().uuidString.lowercased()), "aud": "authenticated", "role": "authenticated", "email": .string(email), "phone": "",
            "confirmation_sent_at": .string(now), "app_metadata": .object(["provider": "email", "providers": ["email"]]),
            "user_metadata": .object(metadata), "identities": .array([]), "created_at": .string(now), "updated_at": .string(now),
            "is_anonymous": false,
        ]))
    }

    /// The JSON text of user `id`, nil when there is none.
    static func json(id: String, on connection: PGConnection) async throws -> String? {
        try await connection.query("select (\(json))::text from auth.users u where u.id = $1::uuid", [id]).scalar
    }

    /// The bcrypt hash of `$n` (cost 10, as GoTrue's).
    static func hash(_ parameter: Int) -> String {
        "extensions.crypt($\(parameter)::text, extensions.gen_salt('bf', 10))"
    }

    /// Whether password `$n` matches the stored hash `column`. Hashes with the `$2b$`/`$2y$` prefixes
    /// of other bcrypt libraries are the same computation as `$2a$`, the only one pgcrypto knows; other
    /// hashes never match.
    static func passwordMatches(_ parameter: Int, hash column: String) -> String {
        let normalized = "(case when left(\(column), 4) in ('$2a$', '$2b$', '$2y$') then '$2a$' || substr(\(column), 5) end)"
        return "coalesce(extensions.crypt($\(parameter)::text, \(normalized)) = \(normalized), false)"
    }

    /// A salt bcrypt accepts, to spend the same time on unknown users as on known ones.
    static let decoySalt = "$2a$10$CwTycUXWue0Thq9StjUM0u"

    /// `column` (jsonb) with `$n` merged in as GoTrue merges metadata: keys set to null are removed.
    static func merged(_ column: String, _ parameter: Int) -> String {
        """
        (select coalesce(jsonb_object_agg(key, value), '{}'::jsonb)
         from jsonb_each(coalesce(\(column), '{}'::jsonb) || $\(parameter)::jsonb) where value <> 'null'::jsonb)
        """
    }

    /// Adds (or updates) the user's identity for `provider` (`email` or `phone`), whose identity data
    /// GoTrue keeps as `{sub, email|phone, email_verified, phone_verified}`.
    static func saveIdentity(
        userID: String, provider: String, value: String, verified: Bool, on connection: PGConnection
    ) async throws {
        let field = provider == "phone" ? "phone" : "email"
        try await connection.query(
            """
            insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
            values ($1::text, $1::uuid,
                    jsonb_build_object('sub', $1::text, '\(field)', $2::text,
                                       'email_verified', $3::bool and $4 = 'email', 'phone_verified', $3::bool and $4 = 'phone'),
                    $4, now(), now(), now())
            on conflict (provider_id, provider) do update
              set identity_data = auth.identities.identity_data || jsonb_build_object('\(field)', $2::text, '\(field)_verified', $3::bool),
                  updated_at = now()
            """,
            [userID, value, verified ? "true" : "false", provider])
    }

    /// Whether another live user already has this email (lower-cased) or phone.
    static func taken(email: String?, phone: String?, except userID: String?, on connection: PGConnection) async throws -> AuthFailure? {
        if let email, try await connection.query(
            "select 1 from auth.users where lower(email) = $1 and id is distinct from $2::uuid and deleted_at is null", [email, userID]
        ).count > 0 {
            return .emailExists
        }
        if let phone, try await connection.query(
            "select 1 from auth.users where phone = $1 and id is distinct from $2::uuid and deleted_at is null", [phone, userID]
        ).count > 0 {
            return .phoneExists
        }
        return nil
    }

    /// The failure a unique violation on `auth.users` means (a concurrent sign-up or update won).
    static func duplicate(_ error: any Error, email: AuthFailure = .emailExists) -> AuthFailure? {
        guard let error = error as? PostgresError, error.sqlState == "23505" else { return nil }
        let text = [error.server?.message, error.server?.detail].compactMap { $0 }.joined(separator: " ")
        return text.contains("phone") ? .phoneExists : email
    }
}

/// A user about to be created (sign-up or admin), with what GoTrue stores for it.
struct NewUser: Sendable {
    var id: String? = nil
    var role = "authenticated"
    var email: String?
    var phone: String? = nil
    /// A password to hash, or a bcrypt hash to store as is (admin `password_hash`); neither: no password.
    var password: String?
    var passwordHash: String? = nil
    var emailConfirmed: Bool
    var phoneConfirmed = false
    var appMetadata: [String: JSONValue]
    var userMetadata: [String: JSONValue]
    /// Seconds from now the user stays banned (admin `ban_duration`).
    var bannedFor: Double? = nil
    /// Whether the email and phone get their own identities (false for a provider's user, whose
    /// identity is the provider's).
    var identifiesByContact = true

    /// GoTrue's `{"provider":…,"providers":[…]}` for the identities the user gets, then `extra` merged in
    /// (a key set to null is removed).
    static func appMetadata(email: String?, phone: String?, merging extra: [String: JSONValue]) -> [String: JSONValue] {
        let providers = (email != nil ? ["email"] : []) + (phone != nil ? ["phone"] : [])
        var metadata: [String: JSONValue] = [
            "provider": .string(providers.first ?? "email"), "providers": .array(providers.map(JSONValue.string)),
        ]
        for (key, value) in extra {
            metadata[key] = value == .null ? nil : value
        }
        return metadata
    }

    /// Inserts the user and its identities; returns its id. Token columns get '' rather than NULL:
    /// GoTrue cannot read rows with NULL there, and these rows may go back to Supabase.
    func insert(on connection: PGConnection) async throws -> String {
        let row = try await connection.query(
            """
            insert into auth.users (instance_id, id, aud, role, email, phone, encrypted_password, email_confirmed_at, phone_confirmed_at,
              confirmation_token, recovery_token, email_change_token_new, email_change, raw_app_meta_data, raw_user_meta_data,
              is_super_admin, created_at, updated_at, banned_until, is_anonymous)
            values ($1::uuid, coalesce($2::uuid, gen_random_uuid()), 'authenticated', $3, $4, $5,
              case when $6::text is not null then \(UserRecords.hash(6)) else coalesce($7::text, '') end,
              case when $8::bool then now() end, case when $9::bool then now() end,
              '', '', '', '', $10::jsonb, $11::jsonb,
              false, now(), now(), case when $12::float8 is not null then now() + make_interval(secs => $12::float8) end, false)
            returning id::text
            """,
            [UserRecords.instanceID, id, role, email, phone, password, passwordHash, emailConfirmed ? "true" : "false",
             phoneConfirmed ? "true" : "false", JSONText.encode(.object(appMetadata)), JSONText.encode(.object(userMetadata)),
             bannedFor.map { String($0) }])
        guard let userID = row.scalar else { throw AuthFailure.unexpected }
        guard identifiesByContact else { return userID }
        if let email { try await UserRecords.saveIdentity(userID: userID, provider: "email", value: email, verified: emailConfirmed, on: connection) }
        if let phone { try await UserRecords.saveIdentity(userID: userID, provider: "phone", value: phone, verified: phoneConfirmed, on: connection) }
        return userID
    }
}
