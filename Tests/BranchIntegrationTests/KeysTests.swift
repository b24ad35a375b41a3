import BranchAPI
import BranchTesting
import Foundation
import Testing

@Suite("Project keys: the data API's URL, the anon and service_role keys, rotation, .env lines", .serialized)
struct KeysTests {
    /// What `branch keys --json` prints.
    struct PrintedKeys: Decodable, Equatable {
        let url: String
        let anonKey: String
        let serviceRoleKey: String
    }

    /// What `branch keys rotate --json` prints.
    struct PrintedRotation: Decodable {
        let keys: PrintedKeys
    }

    /// A JWT's header and claims, decoded without verifying: the tests never see the secret.
    static func decode(_ jwt: String) throws -> (header: [String: Any], claims: [String: Any]) {
        let segments = jwt.split(separator: ".", omittingEmptySubsequences: false)
        #expect(segments.count == 3)
        func object(_ segment: Substring) throws -> [String: Any] {
            var text = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            text += String(repeating: "=", count: (4 - text.count % 4) % 4)
            let data = try #require(Data(base64Encoded: text), "not base64url: \(segment)")
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
        return (try object(segments[0]), try object(segments[1]))
    }

    /// Checks a key's claims: `{"role","iss":"branch","ref","iat","exp"}`, HS256, valid for ten years.
    static func expectKey(_ jwt: String, role: String, project: String, issuedAfter earliest: Date) throws {
        let (header, claims) = try decode(jwt)
        #expect(header["alg"] as? String == "HS256")
        #expect(claims["role"] as? String == role)
        #expect(claims["ref"] as? String == project)
        #expect(claims["iss"] as? String == "branch")
        let iat = try #require(claims["iat"] as? Int)
        let exp = try #require(claims["exp"] as? Int)
        #expect(exp - iat == 10 * 365 * 24 * 3600)
        #expect(Double(iat) >= earliest.timeIntervalSince1970.rounded(.down) - 1)
        #expect(Double(iat) <= Date().timeIntervalSince1970 + 1)
    }

    @Test("every project has signed anon and service_role keys, the same on every call and after a restart, until rotated")
    func keys() async throws {
        try await TestEnvironment.with { env in
            let start = Date()
            let created = try await env.json(ProjectCreated.self, "project", "create", "app")
            #expect(created.keys.path == "/p/app")

            // `branch keys --json`: exactly the URL and the two keys, those `project create` gave.
            let raw = try await env.cli("keys", "--project", "app", "--json")
            #expect(raw.succeeded, "\(raw.stderr)")
            let fields = try JSONSerialization.jsonObject(with: Data(raw.stdout.utf8)) as? [String: Any]
            #expect(Set(fields?.keys.map { $0 } ?? []) == ["url", "anonKey", "serviceRoleKey"])
            let keys = try await env.json(PrintedKeys.self, "keys", "--project", "app")
            #expect(keys == PrintedKeys(url: env.url + "/p/app", anonKey: created.keys.anonKey, serviceRoleKey: created.keys.serviceRoleKey))
            try Self.expectKey(keys.anonKey, role: "anon", project: "app", issuedAfter: start)
            try Self.expectKey(keys.serviceRoleKey, role: "service_role", project: "app", issuedAfter: start)
            #expect(keys.anonKey != keys.serviceRoleKey)

            // The API answers the same keys, with the path the CLI put behind its URL.
            let answer = try await APIAndCLITests.curl(["-H", "Authorization: Bearer \(env.token)", env.url + "/api/v1/projects/app/keys"])
            #expect(answer.status == 200)
            let served = try JSONDecoder.api.decode(ProjectKeys.self, from: Data(answer.body.utf8))
            #expect(env.url + served.path == keys.url)
            #expect(served.anonKey == keys.anonKey && served.serviceRoleKey == keys.serviceRoleKey)

            // People see the same; another project has keys of its own.
            let human = try await env.cli("keys", "--project", "app").output
            #expect(human.contains(keys.url) && human.contains(keys.anonKey) && human.contains(keys.serviceRoleKey))
            _ = try await env.json(ProjectCreated.self, "project", "create", "other")
            let other = try await env.json(PrintedKeys.self, "keys", "--project", "other")
            #expect(other.url == env.url + "/p/other")
            #expect(other.anonKey != keys.anonKey)
            try Self.expectKey(other.anonKey, role: "anon", project: "other", issuedAfter: start)

            // Stable across calls and across a restart of the service.
            #expect(try await env.json(PrintedKeys.self, "keys", "--project", "app") == keys)
            await env.stopService()
            try await env.startService()
            #expect(try await env.json(PrintedKeys.self, "keys", "--project", "app") == keys)

            // Rotation replaces both keys, for good, and only the project's; it is journaled.
            let beforeRotation = Date()
            let rotated = try await env.json(PrintedRotation.self, "keys", "rotate", "--project", "app").keys
            #expect(rotated.url == keys.url)
            #expect(rotated.anonKey != keys.anonKey && rotated.serviceRoleKey != keys.serviceRoleKey)
            try Self.expectKey(rotated.anonKey, role: "anon", project: "app", issuedAfter: beforeRotation)
            try Self.expectKey(rotated.serviceRoleKey, role: "service_role", project: "app", issuedAfter: beforeRotation)
            #expect(try await env.json(PrintedKeys.self, "keys", "--project", "app") == rotated)
            #expect(try await env.json(PrintedKeys.self, "keys", "--project", "other") == other)
            let operations = try await env.json(OperationList.self, "operations", "--project", "app").operations
            #expect(operations.first?.kind == "project.keys.rotate" && operations.first?.state == "succeeded")
            let rotatedOverHTTP = try await APIAndCLITests.curl([
                "-X", "POST", "-H", "Authorization: Bearer \(env.token)", env.url + "/api/v1/projects/app/keys/rotate",
            ])
            #expect(rotatedOverHTTP.status == 200)
            let again = try JSONDecoder.api.decode(KeysRotated.self, from: Data(rotatedOverHTTP.body.utf8))
            #expect(again.keys.anonKey != rotated.anonKey)
            #expect(try await env.json(PrintedKeys.self, "keys", "--project", "app").anonKey == again.keys.anonKey)
        }
    }

    @Test("env prints DATABASE_URL, SUPABASE_URL and both keys, for the project and for one branch")
    func envLines() async throws {
        try await TestEnvironment.with { env in
            try await env.linkedProject()
            _ = try await env.json(BranchResult.self, "create", "feat")
            let keys = try await env.json(PrintedKeys.self, "keys")
            let names = ["DATABASE_URL", "SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY"]
            func lines(_ arguments: String...) async throws -> [(String, String)] {
                let result = try await env.cli(arguments)
                #expect(result.succeeded, "\(result.stderr)")
                return result.output.split(separator: "\n").map { line in
                    let parts = line.split(separator: "=", maxSplits: 1)
                    return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
                }
            }

            // The project: its pooled URL and data API, which follow `branch checkout`.
            let project = try await lines("env")
            #expect(project.map(\.0) == names)
            let projectValues = Dictionary(uniqueKeysWithValues: project)
            let pooledURL = try await env.cli("url").output
            #expect(projectValues["DATABASE_URL"] == pooledURL)
            #expect(projectValues["SUPABASE_URL"] == env.url + "/p/app")
            #expect(projectValues["SUPABASE_ANON_KEY"] == keys.anonKey)
            #expect(projectValues["SUPABASE_SERVICE_ROLE_KEY"] == keys.serviceRoleKey)
            #expect(try await env.psql(try #require(projectValues["DATABASE_URL"]), "select 1") == "1")

            // One branch: its own Postgres URL and data API, the project's keys.
            let branch = try await lines("env", "feat")
            #expect(branch.map(\.0) == names)
            let branchValues = Dictionary(uniqueKeysWithValues: branch)
            let branchURL = try await env.cli("url", "feat").output
            #expect(branchValues["DATABASE_URL"] == branchURL)
            #expect(branchValues["SUPABASE_URL"] == env.url + "/p/app/b/feat")
            #expect(branchValues["SUPABASE_ANON_KEY"] == keys.anonKey)
            #expect(branchValues["SUPABASE_SERVICE_ROLE_KEY"] == keys.serviceRoleKey)
            #expect(try await env.json([String: String].self, "env", "feat") == branchValues)
            #expect(try await env.json([String: String].self, "env", "--project", "app") == projectValues)
        }
    }

    @Test("an unknown project or branch, or a bad name, fails with a stable code")
    func unknown() async throws {
        try await TestEnvironment.with { env in
            #expect(try await env.errorCode("keys", "--project", "nope") == "project_not_found")
            #expect(try await env.errorCode("keys", "rotate", "--project", "nope") == "project_not_found")
            #expect(try await env.errorCode("env", "--project", "nope") == "project_not_found")
            #expect(try await env.errorCode("keys", "--project", "Not_A_Name") == "invalid_name")
            let answer = try await APIAndCLITests.curl(["-H", "Authorization: Bearer \(env.token)", env.url + "/api/v1/projects/nope/keys"])
            #expect(answer.status == 404)
            #expect(answer.body.contains("\"project_not_found\""))

            try await env.linkedProject()
            #expect(try await env.errorCode("env", "nope") == "branch_not_found")
            // Without a project given or linked.
            let unlinked = try await env.cli(["keys", "--json"], directory: env.root)
            #expect(!unlinked.succeeded)
            #expect(unlinked.stdout.contains("project_required"))
        }
    }
}
