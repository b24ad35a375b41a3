import BranchCore
import BranchPostgres
import BranchREST
import Foundation

/// Sign-in with a provider (GitHub, GitLab, Google, Keycloak), as GoTrue does it and as
/// `supabase.auth.signInWithOAuth` expects: `GET /authorize` sends the browser to the provider with
/// a signed state; the provider sends it back to `GET /callback` with a code, which the service
/// exchanges for the provider's token and user. The user is found by their identity, else linked
/// to the account with the same verified email, else created; the browser then goes back to the
/// app with the session in the fragment, or, for PKCE, with a one-time code the app exchanges
/// (`POST /token?grant_type=pkce`). Both endpoints are opened by a browser, without an API key.
enum OAuthEndpoints {
    /// `GET /authorize?provider=…&redirect_to=…&scopes=…[&code_challenge=…&code_challenge_method=…]`.
    static func authorize(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let (kind, settings, endpoints) = try enabledProvider(input.query("provider"), policy: context.policy)
        guard context.oauthHTTP != nil else { throw notEnabled }
        let challenge = try PKCEChallenge.from(challenge: input.query("code_challenge"), method: input.query("code_challenge_method"))
        var flowStateID: String?
        if let challenge {
            flowStateID = try await context.database.transaction { connection in
                // Sign-ins abandoned at the provider leave their rows; a day later they go.
                try await connection.query(
                    "delete from auth.flow_state where authentication_method = 'oauth' and created_at < now() - interval '1 day'")
                return try await connection.query(
                    """
                    insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
                                                 created_at, updated_at, authentication_method)
                    values (gen_random_uuid(), null, gen_random_uuid()::text, $1::auth.code_challenge_method, $2, $3, now(), now(), 'oauth')
                    returning id::text
                    """,
                    [challenge.method.rawValue, challenge.challenge, kind.rawValue]
                ).scalar
            }
        }
        let state = OAuthState(provider: kind, redirectTo: context.policy.redirect(input.query("redirect_to")), flowStateID: flowStateID)
        let extraScopes = (input.query("scopes") ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        var scopes = kind.defaultScopes
        for scope in extraScopes where !scopes.contains(scope) { scopes.append(scope) }
        let query = AuthReply.encoded([
            ("client_id", settings.clientID), ("redirect_uri", callbackURL(context)), ("response_type", "code"),
            ("scope", scopes.joined(separator: " ")), ("state", state.signed(secret: context.jwtSecret, now: context.now())),
        ])
        let location = endpoints.authorize + (endpoints.authorize.contains("?") ? "&" : "?") + query
        return DataResponse(status: 302, headers: [AuthReply.apiVersionHeader, ("Location", location), ("Cache-Control", "no-store")])
    }

    /// The provider `name` names, when the project turned it on.
    static func enabledProvider(
        _ name: String?, policy: AuthPolicy
    ) throws(AuthFailure) -> (OAuthProviderKind, OAuthProviderSettings, OAuthAddresses) {
        guard let name, !name.isEmpty else { throw AuthFailure.validation("Unsupported provider: missing provider") }
        guard let kind = OAuthProviderKind(rawValue: name.lowercased()), let settings = policy.providers[kind],
            let endpoints = kind.endpoints(url: settings.url)
        else { throw notEnabled }
        return (kind, settings, endpoints)
    }

    static let notEnabled = AuthFailure.validation("Unsupported provider: provider is not enabled")

    /// The state a callback carries, when this project signed it less than ten minutes ago.
    static func verifiedState(_ text: String?, secret: [UInt8], now: Date) throws(AuthFailure) -> OAuthState {
        guard let text, let state = OAuthState.verified(text, secret: secret, now: now) else {
            // Without a state there is no known place to send the browser back to.
            throw AuthFailure(400, "bad_oauth_state", "OAuth state parameter is invalid or has expired. Start the sign-in again.")
        }
        return state
    }

    /// Where providers send the browser back: registered with the provider as the callback URL.
    static func callbackURL(_ context: AuthContext) -> String { context.linkBase + "/callback" }

    /// `GET /callback?code=…&state=…` (or `?error=…&state=…` when the user said no).
    static func callback(_ input: AuthInput, context: AuthContext) async throws -> DataResponse {
        let state = try verifiedState(input.query("state"), secret: context.jwtSecret, now: context.now())
        // The allow list may have changed while the user was at the provider.
        let target = context.policy.redirect(state.redirectTo)
        func refused(_ error: String, _ code: String, _ description: String) -> DataResponse {
            let pairs = [("error", error), ("error_code", code), ("error_description", description)]
            return state.flowStateID == nil ? AuthReply.redirect(to: target, fragment: pairs) : AuthReply.redirect(to: target, query: pairs)
        }
        if let error = input.query("error") {
            return refused(error, "provider_error", input.query("error_description") ?? "The provider refused the sign-in.")
        }
        guard let settings = context.policy.providers[state.provider], let endpoints = state.provider.endpoints(url: settings.url),
            let http = context.oauthHTTP
        else { return refused("invalid_request", notEnabled.code, notEnabled.message) }
        guard let code = input.query("code"), !code.isEmpty else {
            return refused("invalid_request", "bad_oauth_callback", "OAuth callback with missing authorization code")
        }
        guard let tokens = await exchange(code, settings: settings, endpoints: endpoints, context: context, http: http) else {
            return refused("server_error", "provider_error", "Unable to exchange external code")
        }
        guard let profile = await profile(of: state.provider, endpoints: endpoints, token: tokens.access, http: http) else {
            return refused("server_error", "provider_error", "Error getting user profile from external provider")
        }
        do {
            let outcome = try await context.database.transaction { connection -> SignedIn in
                let userID = try await user(for: profile, provider: state.provider, issuer: endpoints.user, context: context, on: connection)
                try await connection.query("update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1::uuid", [userID])
                guard let flowStateID = state.flowStateID else {
                    return .session(try await Sessions.start(userID: userID, input: input, context: context, on: connection))
                }
                // The flow is completed once: a replayed state finds it taken.
                guard let authCode = try await connection.query(
                    """
                    update auth.flow_state set user_id = $2::uuid, provider_access_token = $3, provider_refresh_token = $4,
                                               auth_code_issued_at = now(), updated_at = now()
                    where id = $1::uuid and user_id is null and auth_code_issued_at is null and authentication_method = 'oauth'
                    returning auth_code
                    """,
                    [flowStateID, userID, tokens.access, tokens.refresh]
                ).scalar else { throw AuthFailure(404, "flow_state_not_found", "invalid flow state, no valid flow state found") }
                return .code(authCode)
            }
            switch outcome {
            case .code(let authCode):
                return AuthReply.redirect(to: target, query: [("code", authCode)])
            case .session(let session):
                guard let fields = JSONText.decode(session)?.objectValue else { throw AuthFailure.unexpected }
                var pairs: [(String, String)] = ["access_token", "expires_at", "expires_in"].map { key in
                    (key, fields[key].map { $0.stringValue ?? JSONText.encode($0) } ?? "")
                }
                pairs.append(("provider_token", tokens.access))
                if let refresh = tokens.refresh { pairs.append(("provider_refresh_token", refresh)) }
                pairs.append(("refresh_token", fields["refresh_token"]?.stringValue ?? ""))
                pairs.append(("token_type", "bearer"))
                return AuthReply.redirect(to: target, fragment: pairs)
            }
        } catch let failure as AuthFailure {
            return refused(failure.status >= 500 ? "server_error" : "access_denied", failure.code, failure.message)
        }
    }

    private enum SignedIn: Sendable {
        case session(String)
        case code(String)
    }

    /// The provider's tokens for `code`, nil when it refused (a used or forged code, wrong client credentials) or was unreachable.
    private static func exchange(
        _ code: String, settings: OAuthProviderSettings, endpoints: OAuthAddresses, context: AuthContext, http: any OAuthHTTP
    ) async -> (access: String, refresh: String?)? {
        let fields = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", callbackURL(context)),
            ("client_id", settings.clientID), ("client_secret", settings.clientSecret),
        ]
        // GitHub answers a bad code with 200 and an `error` field: the token itself is what counts.
        guard let response = try? await http.postForm(endpoints.token, form: AuthReply.encoded(fields)), (200..<300).contains(response.status),
            let body = response.json?.objectValue, let access = body["access_token"]?.stringValue, !access.isEmpty
        else { return nil }
        return (access, body["refresh_token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// The signed-in user as the provider describes them.
    private static func profile(of kind: OAuthProviderKind, endpoints: OAuthAddresses, token: String, http: any OAuthHTTP) async -> OAuthProfile? {
        guard let user = try? await http.getJSON(endpoints.user, bearer: token), (200..<300).contains(user.status), let json = user.json else {
            return nil
        }
        var emails: JSONValue?
        if let address = endpoints.emails, let listed = try? await http.getJSON(address, bearer: token), (200..<300).contains(listed.status) {
            emails = listed.json
        }
        return kind.profile(user: json, emails: emails)
    }

    /// The user `profile` signs in as: the one with this identity; else the one with the same
    /// verified email, which gains the identity; else a new user (when sign-ups are open).
    /// Sign-ins of one identity take turns (a lock held until the transaction ends), so two first
    /// sign-ins at once make one user, and the second finds it.
    private static func user(
        for profile: OAuthProfile, provider: OAuthProviderKind, issuer: String, context: AuthContext, on connection: PGConnection
    ) async throws -> String {
        let identity = JSONText.encode(.object(profile.identityData(issuer: issuer)))
        try await connection.query("select pg_advisory_xact_lock(hashtextextended($1, 0))", ["oauth:\(provider.rawValue):\(profile.id)"])
        let known = try await connection.query(
            """
            select u.id::text, coalesce(u.banned_until > now(), false)
            from auth.identities i join auth.users u on u.id = i.user_id and u.deleted_at is null
            where i.provider = $1 and i.provider_id = $2
            for update of u
            """,
            [provider.rawValue, profile.id])
        if let row = known.rows.first, let userID = row[0] {
            if row[1] == "t" { throw AuthFailure.userBanned }
            try await connection.query(
                """
                update auth.identities set identity_data = $3::jsonb, last_sign_in_at = now(), updated_at = now()
                where provider = $1 and provider_id = $2
                """,
                [provider.rawValue, profile.id, identity])
            try await refreshMetadata(userID: userID, identity: identity, on: connection)
            return userID
        }
        if let email = profile.email, let row = try await connection.query(
            """
            select id::text, email_confirmed_at is not null, coalesce(banned_until > now(), false)
            from auth.users where lower(email) = $1 and deleted_at is null
            limit 1 for update
            """,
            [email]
        ).rows.first, let userID = row[0] {
            // Only an address the provider verified proves it is the same person.
            guard profile.emailVerified else {
                throw AuthFailure(422, "email_exists", "A user with this email address has already been registered; the provider has not verified it.")
            }
            if row[2] == "t" { throw AuthFailure.userBanned }
            if row[1] != "t" {
                // Whoever signed up unconfirmed with this address never proved it was theirs: their
                // password must not keep working on the account its real owner now takes.
                try await connection.query(
                    "update auth.users set email_confirmed_at = now(), encrypted_password = '', confirmation_token = '' where id = $1::uuid", [userID])
            }
            try await saveIdentity(userID: userID, profile: profile, provider: provider, identity: identity, on: connection)
            try await refreshMetadata(userID: userID, identity: identity, on: connection)
            return userID
        }
        guard context.policy.allowSignup else { throw AuthFailure.signupDisabled }
        var user = NewUser(
            email: profile.email, password: nil, emailConfirmed: profile.emailVerified,
            appMetadata: ["provider": .string(provider.rawValue), "providers": [.string(provider.rawValue)]],
            userMetadata: JSONText.decode(identity)?.objectValue ?? [:])
        user.identifiesByContact = false
        let userID: String
        do {
            userID = try await user.insert(on: connection)
        } catch {
            if let failure = UserRecords.duplicate(error) { throw failure }
            throw error
        }
        try await saveIdentity(userID: userID, profile: profile, provider: provider, identity: identity, on: connection)
        return userID
    }

    /// Adds the provider's identity to the user, and the provider to their `app_metadata.providers`.
    private static func saveIdentity(
        userID: String, profile: OAuthProfile, provider: OAuthProviderKind, identity: String, on connection: PGConnection
    ) async throws {
        try await connection.query(
            """
            insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
            values ($1, $2::uuid, $3::jsonb, $4, now(), now(), now())
            """,
            [profile.id, userID, identity, provider.rawValue])
        try await connection.query(
            """
            update auth.users set raw_app_meta_data = coalesce(raw_app_meta_data, '{}'::jsonb) || jsonb_build_object(
                'provider', coalesce(raw_app_meta_data ->> 'provider', $2),
                'providers', (select jsonb_agg(distinct name) from (
                    select jsonb_array_elements_text(coalesce(raw_app_meta_data -> 'providers', '[]'::jsonb)) as name
                    union select $2) as names))
            where id = $1::uuid
            """,
            [userID, provider.rawValue])
    }

    /// The provider's current name, picture… in the user's metadata, as GoTrue keeps them.
    private static func refreshMetadata(userID: String, identity: String, on connection: PGConnection) async throws {
        try await connection.query(
            "update auth.users set raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || $2::jsonb where id = $1::uuid",
            [userID, identity])
    }
}
