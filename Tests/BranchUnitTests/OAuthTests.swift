@testable import BranchAuth
import BranchCatalog
import BranchCore
@testable import BranchEngine
import BranchREST
import Foundation
import Testing

/// Sign-in providers without a network: where each is reached, how each describes a user, the
/// signed state, and which provider settings are refused.
@Suite("OAuth sign-in providers")
struct OAuthTests {
    static let secret = Array("a-test-secret-of-at-least-32-bytes!".utf8)
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("each provider's addresses: the public service, or the project's own URL; Keycloak needs one")
    func endpoints() {
        #expect(OAuthProviderKind.github.endpoints(url: nil)?.token == "https://github.com/login/oauth/access_token")
        #expect(OAuthProviderKind.github.endpoints(url: nil)?.user == "https://api.github.com/user")
        let enterprise = OAuthProviderKind.github.endpoints(url: "https://git.example.com/")
        #expect(enterprise?.authorize == "https://git.example.com/login/oauth/authorize")
        #expect(enterprise?.emails == "https://git.example.com/api/v3/user/emails")
        #expect(OAuthProviderKind.gitlab.endpoints(url: "https://gl.example.com")?.user == "https://gl.example.com/api/v4/user")
        #expect(OAuthProviderKind.google.endpoints(url: nil)?.authorize == "https://accounts.google.com/o/oauth2/auth")
        #expect(OAuthProviderKind.keycloak.endpoints(url: nil) == nil)
        #expect(OAuthProviderKind.keycloak.endpoints(url: "https://id.example.com/realms/app")?.token
            == "https://id.example.com/realms/app/protocol/openid-connect/token")
    }

    @Test("GitHub's user is its primary verified address; its public email alone is not verified")
    func githubProfile() throws {
        let user: JSONValue = ["id": 583231, "login": "octocat", "name": "The Octocat", "avatar_url": "https://a.example/o.png", "email": "Public@Example.com"]
        let emails: JSONValue = [
            ["email": "other@example.com", "primary": false, "verified": true],
            ["email": "Octo@Example.com", "primary": true, "verified": true],
        ]
        let profile = try #require(OAuthProviderKind.github.profile(user: user, emails: emails))
        #expect(profile == OAuthProfile(
            id: "583231", email: "octo@example.com", emailVerified: true, name: "The Octocat", userName: "octocat", avatarURL: "https://a.example/o.png"))
        let unlisted = try #require(OAuthProviderKind.github.profile(user: user, emails: nil))
        #expect(unlisted.email == "public@example.com" && !unlisted.emailVerified)
        #expect(OAuthProviderKind.github.profile(user: ["login": "no-id"]) == nil)
    }

    @Test("GitLab, Google and Keycloak describe users in their own words")
    func otherProfiles() throws {
        let gitlab = try #require(OAuthProviderKind.gitlab.profile(user: ["id": 7, "username": "gl", "email": "g@example.com", "confirmed_at": "2024-01-01T00:00:00Z"]))
        #expect(gitlab.id == "7" && gitlab.emailVerified && gitlab.userName == "gl")
        let unconfirmed = try #require(OAuthProviderKind.gitlab.profile(user: ["id": 8, "email": "u@example.com", "confirmed_at": .null]))
        #expect(!unconfirmed.emailVerified)
        let google = try #require(OAuthProviderKind.google.profile(user: ["id": "1093", "email": "a@gmail.com", "verified_email": true, "picture": "https://p"]))
        #expect(google.emailVerified && google.avatarURL == "https://p")
        let keycloak = try #require(OAuthProviderKind.keycloak.profile(user: ["sub": "f81d", "email": "k@example.com", "email_verified": false, "preferred_username": "kc"]))
        #expect(keycloak.id == "f81d" && !keycloak.emailVerified && keycloak.userName == "kc")
        #expect(OAuthProviderKind.keycloak.profile(user: ["id": "not-sub"]) == nil)
        #expect(OAuthProviderKind.google.profile(user: "not an object") == nil)
    }

    @Test("identity data carries GoTrue's claim names; no email means not verified")
    func identityData() {
        let data = OAuthProfile(id: "1", email: nil, emailVerified: true, name: "N", userName: "u", avatarURL: nil).identityData(issuer: "https://api.github.com")
        #expect(data["sub"] == "1" && data["provider_id"] == "1" && data["email_verified"] == false)
        #expect(data["full_name"] == "N" && data["user_name"] == "u" && data["email"] == nil)
    }

    @Test("the state comes back only as signed, for its purpose, and within ten minutes")
    func state() throws {
        let state = OAuthState(provider: .github, redirectTo: "http://127.0.0.1:3000/cb", flowStateID: "5b0c…")
        let text = state.signed(secret: Self.secret, now: now)
        #expect(OAuthState.verified(text, secret: Self.secret, now: now.addingTimeInterval(60)) == state)
        #expect(OAuthState.verified(text, secret: Self.secret, now: now.addingTimeInterval(601)) == nil)
        #expect(OAuthState.verified(text, secret: Array("another-secret-of-at-least-32-bytes".utf8), now: now) == nil)
        var tampered = Array(text)
        tampered[tampered.count / 2] = tampered[tampered.count / 2] == "A" ? "B" : "A"
        #expect(OAuthState.verified(String(tampered), secret: Self.secret, now: now) == nil)
        // An API key of the same project is signed with the same secret but is not a state.
        let apiKey = JWT.sign(["role": "anon", "iss": "supabase", "exp": .integer(Int(now.timeIntervalSince1970) + 3600)], secret: Self.secret)
        #expect(OAuthState.verified(apiKey, secret: Self.secret, now: now) == nil)
        #expect(state.signed(secret: Self.secret, now: now) != text, "two sign-ins in the same second get different states")
    }

    @Test("keyless sign-in requests that cannot succeed are answered before a branch is woken")
    func refusedBeforeWaking() {
        var policy = AuthPolicy()
        policy.providers[.github] = OAuthProviderSettings(kind: .github, clientID: "id", clientSecret: "s", url: nil)
        func answer(_ path: String, _ query: String) -> DataResponse? {
            AuthHandler.refusedBeforeWaking(DataRequest(method: "GET", path: path, rawQuery: query, headers: []), policy: policy, secret: Self.secret, now: now)
        }
        #expect(answer("/authorize", "provider=github") == nil)
        #expect(answer("/authorize", "provider=gitlab")?.status == 400)
        #expect(answer("/authorize", "")?.status == 400)
        let state = OAuthState(provider: .github, redirectTo: "http://localhost:3000", flowStateID: nil).signed(secret: Self.secret, now: now)
        #expect(answer("/callback", "code=c&state=\(state)") == nil)
        #expect(answer("/callback", "code=c&state=forged")?.status == 400)
        #expect(answer("/callback", "code=c")?.status == 400)
        #expect(answer("/token", "grant_type=password") == nil, "other paths are the handler's")
    }

    @Test("a provider is turned on only with a client id and secret, Keycloak only with its URL; URLs are plain http(s)")
    func providerSettings() throws {
        var record = AuthProviderRecord(project: "p", provider: "github", enabled: false, clientID: "", clientSecret: "", url: nil)
        #expect(throws: EngineError.self) { try AuthProviderChange(enabled: true, clientID: "id").apply(to: &record, kind: .github) }
        try AuthProviderChange(enabled: true, clientID: " id ", clientSecret: "s\n", url: "https://git.example.com/").apply(to: &record, kind: .github)
        #expect(record.enabled && record.clientID == "id" && record.clientSecret == "s" && record.url == "https://git.example.com")
        try AuthProviderChange(url: "").apply(to: &record, kind: .github)
        #expect(record.url == nil)
        for bad in ["ftp://x.example.com", "https://user@x.example.com", "https://x.example.com/?a=1", "not a url"] {
            #expect(throws: EngineError.self, "\(bad)") { try AuthProviderChange(url: bad).apply(to: &record, kind: .github) }
        }
        var keycloak = AuthProviderRecord(project: "p", provider: "keycloak", enabled: false, clientID: "", clientSecret: "", url: nil)
        #expect(throws: EngineError.self) {
            try AuthProviderChange(enabled: true, clientID: "id", clientSecret: "s").apply(to: &keycloak, kind: .keycloak)
        }
        #expect(throws: EngineError.self) { try AuthProviders.kind("myspace") }
        #expect(try AuthProviders.kind("GitHub") == .github)
    }
}
