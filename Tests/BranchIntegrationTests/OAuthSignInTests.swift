import BranchSystem
import BranchTesting
import Foundation
import Testing

/// Sign-in with a provider end to end: the CLI refuses incomplete provider settings, supabase-py
/// signs users in through GitHub, GitLab and Keycloak served by a provider of the test's own on
/// loopback (Tests/DataAPIClients/supabase_oauth.py: implicit and PKCE flows, identity reuse,
/// linking on a verified email, the refusals), the secret is stored sealed, and the console edits
/// the providers (Tests/ConsoleClients/auth_providers_http.py).
@Suite("OAuth sign-in: providers of the test's own, supabase-py, the CLI and the console", .serialized)
struct OAuthSignInTests {
    static let site = "http://127.0.0.1:3000"

    @Test("GitHub, GitLab and Keycloak sign-ins with supabase-py (implicit and PKCE), linking, refusals; settings sealed and edited in the console")
    func providerSignIns() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.linkedProject("oauth")
            #expect(try await env.errorCode("auth", "provider", "set", "myspace", "--enable") == "invalid_request")
            #expect(try await env.errorCode("auth", "provider", "set", "github", "--enable") == "invalid_request", "no client id and secret")
            let keycloak = try await env.cli(["auth", "provider", "set", "keycloak", "--client-id", "kc", "--client-secret-stdin", "--enable", "--json"], input: "s")
            #expect(!keycloak.succeeded && keycloak.stdout.contains("invalid_request"), "Keycloak needs its realm's URL: \(keycloak.stdout)")
            #expect(try await env.errorCode("auth", "provider", "set", "gitlab", "--url", "ftp://gitlab.example.com") == "invalid_request")
            #expect(try await env.errorCode("auth", "provider", "remove", "gitlab") == "not_found")
            let set = try await env.cli("auth", "set", "--site-url", Self.site, "--redirect-url", "http://127.0.0.1:3000/**")
            #expect(set.succeeded, "\(set.stdout)\(set.stderr)")

            let keys = try JSONSerialization.jsonObject(with: Data(try await env.cli("keys", "--json").stdout.utf8)) as? [String: String] ?? [:]
            let run = try await PythonScript.run(
                "Tests/DataAPIClients/supabase_oauth.py",
                environment: [
                    "SUPABASE_URL": keys["url"] ?? "", "SUPABASE_ANON_KEY": keys["anonKey"] ?? "", "SUPABASE_SERVICE_ROLE_KEY": keys["serviceRoleKey"] ?? "",
                    "SITE_URL": Self.site, "API_URL": env.url, "API_TOKEN": env.token, "PROJECT": "oauth",
                ],
                timeLimit: .seconds(240))
            #expect(run.succeeded && run.stdout.contains("12 of 12 checks passed"), "supabase_oauth.py exited with \(run.status):\n\(run.stdout)\n\(run.stderr)")

            let stored = try await SecretsAtRestTests.column(env, "SELECT client_secret FROM auth_provider WHERE project = 'oauth' AND provider = 'github'")
            #expect(!stored.isEmpty && !stored.contains("gh-secret"), "the client secret is stored sealed: \(stored)")
            let list = try await env.cli("auth", "provider")
            #expect(list.succeeded && list.stdout.contains("gh-client") && list.stdout.contains("/p/oauth/auth/v1/callback"), "\(list.stdout)\(list.stderr)")
            #expect(!list.stdout.contains("gh-secret"))

            let console = try await PythonScript.run("Tests/ConsoleClients/auth_providers_http.py", [env.url, env.token, "oauth"], timeLimit: .seconds(120))
            #expect(console.succeeded, "\(console.stdout)\n\(console.stderr)")

            let removed = try await env.cli("auth", "provider", "remove", "keycloak")
            #expect(removed.succeeded, "\(removed.stdout)\(removed.stderr)")
            let settings = try await Command.run("curl", ["-sk", "\(keys["url"] ?? "")/auth/v1/settings", "-H", "apikey: \(keys["anonKey"] ?? "")"], check: false)
            #expect(settings.stdout.contains(#""github":true"#) && settings.stdout.contains(#""keycloak":false"#), "\(settings.stdout)")
        }
    }
}
