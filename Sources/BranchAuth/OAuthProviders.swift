package import BranchCore
package import Foundation

/// The sign-in providers a project can turn on, by GoTrue's names. Each speaks OAuth 2's
/// authorization-code flow; they differ in their addresses and in how they describe a user.
package enum OAuthProviderKind: String, CaseIterable, Sendable {
    case github, gitlab, google, keycloak

    /// The provider's addresses: its public service, or `url` when the project sets one (GitHub
    /// Enterprise, a self-hosted GitLab, a Keycloak realm such as `https://id.example.com/realms/app`),
    /// as GoTrue's `GOTRUE_EXTERNAL_<NAME>_URL`. Keycloak has no public service: it needs `url`.
    package func endpoints(url: String?) -> OAuthAddresses? {
        let base = url.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        switch self {
        case .github:
            let api = base.map { "\($0)/api/v3" } ?? "https://api.github.com"
            let site = base ?? "https://github.com"
            return OAuthAddresses(
                authorize: "\(site)/login/oauth/authorize", token: "\(site)/login/oauth/access_token", user: "\(api)/user", emails: "\(api)/user/emails")
        case .gitlab:
            let site = base ?? "https://gitlab.com"
            return OAuthAddresses(authorize: "\(site)/oauth/authorize", token: "\(site)/oauth/token", user: "\(site)/api/v4/user", emails: nil)
        case .google:
            guard let base else {
                return OAuthAddresses(
                    authorize: "https://accounts.google.com/o/oauth2/auth", token: "https://oauth2.googleapis.com/token",
                    user: "https://www.googleapis.com/userinfo/v2/me", emails: nil)
            }
            return OAuthAddresses(authorize: "\(base)/o/oauth2/auth", token: "\(base)/o/oauth2/token", user: "\(base)/userinfo/v2/me", emails: nil)
        case .keycloak:
            guard let base else { return nil }
            let connect = "\(base)/protocol/openid-connect"
            return OAuthAddresses(authorize: "\(connect)/auth", token: "\(connect)/token", user: "\(connect)/userinfo", emails: nil)
        }
    }

    /// The scopes every sign-in asks for (GoTrue's), before the client's own `scopes`.
    package var defaultScopes: [String] {
        switch self {
        case .github: ["user:email"]
        case .gitlab: ["read_user"]
        case .google: ["email", "profile"]
        case .keycloak: ["openid", "profile", "email"]
        }
    }

    /// The provider's user from its user-info answer (and, for GitHub, its email list), or nil
    /// when the answer has no user id.
    package func profile(user: JSONValue, emails: JSONValue? = nil) -> OAuthProfile? {
        guard let fields = user.objectValue else { return nil }
        func text(_ key: String) -> String? {
            switch fields[key] {
            case .string(let value)? where !value.isEmpty: value
            case .integer(let value)?: String(value)
            case .number(let value)?: String(format: "%.0f", value)
            default: nil
            }
        }
        switch self {
        case .github:
            guard let id = text("id") else { return nil }
            // The primary verified address; GitHub's user object shows only a public one, unverified.
            let listed = (emails?.arrayValue ?? []).compactMap(\.objectValue)
            let primary = listed.first { $0["primary"] == .bool(true) && $0["verified"] == .bool(true) }
                ?? listed.first { $0["verified"] == .bool(true) }
            let email = primary?["email"]?.stringValue ?? text("email")
            return OAuthProfile(
                id: id, email: email, emailVerified: primary != nil, name: text("name"), userName: text("login"), avatarURL: text("avatar_url"))
        case .gitlab:
            guard let id = text("id") else { return nil }
            return OAuthProfile(
                id: id, email: text("email"), emailVerified: text("confirmed_at") != nil, name: text("name"), userName: text("username"),
                avatarURL: text("avatar_url"))
        case .google:
            guard let id = text("id") ?? text("sub") else { return nil }
            let verified = fields["verified_email"] == .bool(true) || fields["email_verified"] == .bool(true)
            return OAuthProfile(id: id, email: text("email"), emailVerified: verified, name: text("name"), userName: nil, avatarURL: text("picture"))
        case .keycloak:
            guard let id = text("sub") else { return nil }
            return OAuthProfile(
                id: id, email: text("email"), emailVerified: fields["email_verified"] == .bool(true), name: text("name"),
                userName: text("preferred_username"), avatarURL: text("picture"))
        }
    }
}

/// Where one provider is reached.
package struct OAuthAddresses: Sendable, Equatable {
    /// Where the browser is sent to sign in and consent.
    package var authorize: String
    /// Where the service turns the code into an access token (a form POST).
    package var token: String
    /// The signed-in user's profile (GET with the access token).
    package var user: String
    /// The user's addresses with their verification (GitHub only).
    package var emails: String?
}

/// A provider's user, as Branch keeps it: the identity's `identity_data` and the user's metadata.
package struct OAuthProfile: Sendable, Equatable {
    package var id: String
    package var email: String?
    package var emailVerified: Bool
    package var name: String?
    package var userName: String?
    package var avatarURL: String?

    package init(id: String, email: String?, emailVerified: Bool, name: String?, userName: String?, avatarURL: String?) {
        self.id = id
        self.email = email.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.flatMap { $0.isEmpty ? nil : $0 }
        self.emailVerified = emailVerified && self.email != nil
        self.name = name
        self.userName = userName
        self.avatarURL = avatarURL
    }

    /// GoTrue's identity data (and user metadata) for a provider's user: its claims by their OIDC names.
    package func identityData(issuer: String) -> [String: JSONValue] {
        var data: [String: JSONValue] = [
            "sub": .string(id), "provider_id": .string(id), "iss": .string(issuer),
            "email_verified": .bool(emailVerified), "phone_verified": false,
        ]
        if let email { data["email"] = .string(email) }
        if let name {
            data["name"] = .string(name)
            data["full_name"] = .string(name)
        }
        if let userName {
            data["user_name"] = .string(userName)
            data["preferred_username"] = .string(userName)
        }
        if let avatarURL {
            data["avatar_url"] = .string(avatarURL)
            data["picture"] = .string(avatarURL)
        }
        return data
    }
}

/// A project's settings for one provider, as the endpoints use them (only enabled ones reach them).
package struct OAuthProviderSettings: Sendable, Equatable {
    package var kind: OAuthProviderKind
    package var clientID: String
    package var clientSecret: String
    package var url: String?

    package init(kind: OAuthProviderKind, clientID: String, clientSecret: String, url: String?) {
        self.kind = kind
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.url = url
    }
}

/// The service's HTTP client as the callback uses it to reach a provider (AsyncHTTPClient in the
/// engine; the auth module itself has no network code).
package protocol OAuthHTTP: Sendable {
    /// POSTs `form` (already `application/x-www-form-urlencoded`), asking for JSON.
    func postForm(_ url: String, form: String) async throws -> OAuthHTTPResponse
    /// GETs JSON with the user's access token as the bearer.
    func getJSON(_ url: String, bearer: String) async throws -> OAuthHTTPResponse
}

/// A provider's answer.
package struct OAuthHTTPResponse: Sendable {
    package var status: Int
    package var body: [UInt8]

    package init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }

    /// The body as JSON, nil when it is not.
    package var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(body)) }
}
