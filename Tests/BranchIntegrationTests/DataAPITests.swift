import BranchAPI
import BranchCatalog
import BranchSystem
import BranchTesting
import Foundation
import Testing

/// The data API driven by the clients apps use: Supabase's Python client library (the real one,
/// from PyPI) and schemathesis, each a Python program under Tests/DataAPIClients run against a
/// project of a real service. The programs print one line per check; a failure shows them all.
@Suite("Data API: Supabase clients", .serialized)
struct DataAPITests {
    @Test("supabase-py: filters, embeds, writes, RPC, auth, row-level security and errors, as an app sees them")
    func supabaseClient() async throws {
        try await TestEnvironment.with { env in
            let database = try await env.linkedProject("shop")
            try await Self.loadSchema(into: database)
            // A branch made before the writes: the script checks that /b/feature serves its own data.
            _ = try await env.json(BranchResult.self, "create", "feature")
            let keys = try await env.json(DataAPIKeys.self, "keys")
            let created = try await env.cli("project", "create", "other")
            guard created.succeeded else { throw TestFailure("`branch project create other` failed: \(created.stderr)") }
            let other = try await env.json(DataAPIKeys.self, "keys", "--project", "other")

            let run = try await PythonScript.run(
                "Tests/DataAPIClients/supabase_e2e.py",
                environment: [
                    "SUPABASE_URL": keys.url, "SUPABASE_ANON_KEY": keys.anonKey, "SUPABASE_SERVICE_ROLE_KEY": keys.serviceRoleKey,
                    "OTHER_PROJECT_URL": other.url, "OTHER_PROJECT_ANON_KEY": other.anonKey,
                    "OTHER_PROJECT_SERVICE_ROLE_KEY": other.serviceRoleKey, "DATABASE_URL": database, "FEATURE_BRANCH": "feature",
                    // Only to sign expired but otherwise valid tokens (PGRST303): no command prints the
                    // secret, so it is opened from the catalog with the environment's master key.
                    "SUPABASE_JWT_SECRET": try await Self.jwtSecret(env, project: "shop"),
                ])
            #expect(run.status == 0, "supabase_e2e.py exited with \(run.status):\n\(run.stdout)\n\(run.stderr)")
        }
    }

    @Test("schemathesis: the schema document is valid Swagger 2.0; generated requests get no 5xx and four-key errors")
    func schemathesis() async throws {
        try await TestEnvironment.with { env in
            let database = try await env.linkedProject("fuzz")
            try await Self.loadSchema(into: database)
            let keys = try await env.json(DataAPIKeys.self, "keys")
            let run = try await PythonScript.run(
                "Tests/DataAPIClients/schemathesis_check.py",
                environment: ["SUPABASE_URL": keys.url, "SUPABASE_SERVICE_ROLE_KEY": keys.serviceRoleKey])
            #expect(run.status == 0, "schemathesis_check.py exited with \(run.status):\n\(run.stdout)\n\(run.stderr)")
        }
    }

    /// A project's JWT secret, opened from the catalog with the environment's master key (only its holder can).
    static func jwtSecret(_ env: TestEnvironment, project: String) async throws -> String {
        let sealed = try await SecretsAtRestTests.column(env, "SELECT jwt_secret FROM project WHERE name = '\(project)'")
        let masterKey = try MasterKey(base64: try #require(Files.read(env.masterKeyFile)))
        return try SecretBox(masterKey: masterKey).open(sealed, purpose: "project.jwt_secret")
    }

    /// Loads Tests/DataAPIClients/schema.sql as the project's owner, as an app's migration would.
    static func loadSchema(into database: String) async throws {
        let schema = "\(PythonScript.repository)/Tests/DataAPIClients/schema.sql"
        let result = try await Command.run(TestEnvironment.psqlBinary, [database, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", schema], check: false)
        guard result.succeeded else { throw TestFailure("loading schema.sql failed: \(result.stderr)") }
    }
}

/// What `branch keys --json` prints: the data API's base URL and the project's two keys.
private struct DataAPIKeys: Decodable {
    let url: String
    let anonKey: String
    let serviceRoleKey: String
}
