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

    @Test("revoking one key ends it at once, as an apikey or a bearer, on every data path; the other key and users' sessions keep working")
    func revokeOneKey() async throws {
        try await TestEnvironment.with { env in
            let created = try await env.json(ProjectCreated.self, "project", "create", "app")
            let old = created.keys
            let base = env.url + "/p/app"
            func get(_ path: String, apikey: String, bearer: String? = nil) async throws -> Int {
                var arguments = ["-H", "apikey: \(apikey)", base + path]
                if let bearer { arguments = ["-H", "Authorization: Bearer \(bearer)"] + arguments }
                return try await APIAndCLITests.curl(arguments).status
            }
            // A user signed up with the anon key: their session is not a key and survives its revocation.
            let signUp = try await APIAndCLITests.curl([
                "-X", "POST", "-H", "apikey: \(old.anonKey)", "-H", "Content-Type: application/json",
                "-d", #"{"email":"ada@example.com","password":"correct horse battery"}"#, base + "/auth/v1/signup",
            ])
            #expect(signUp.status == 200, "\(signUp)")
            let session = try #require(
                (try JSONSerialization.jsonObject(with: Data(signUp.body.utf8)) as? [String: Any])?["access_token"] as? String)

            // Revoke the anon key: a new one is issued, the service_role key is unchanged.
            let start = Date()
            let revoked = try await env.json(PrintedRotation.self, "keys", "revoke", "anon", "--project", "app").keys
            #expect(revoked.anonKey != old.anonKey && revoked.serviceRoleKey == old.serviceRoleKey)
            try Self.expectKey(revoked.anonKey, role: "anon", project: "app", issuedAfter: start)
            #expect(try await env.json(PrintedKeys.self, "keys", "--project", "app") == revoked)
            #expect(try await get("/auth/v1/settings", apikey: old.anonKey) == 401)
            let refused = try await APIAndCLITests.curl(["-H", "apikey: \(old.anonKey)", base + "/rest/v1/"])
            #expect(refused.status == 401 && refused.body.contains("revoked"), "\(refused)")
            #expect(try await get("/auth/v1/settings", apikey: revoked.anonKey) == 200)
            #expect(try await get("/rest/v1/", apikey: revoked.anonKey, bearer: old.anonKey) == 401)
            #expect(try await get("/auth/v1/user", apikey: revoked.anonKey, bearer: session) == 200)
            #expect(try await get("/auth/v1/admin/users", apikey: old.serviceRoleKey, bearer: old.serviceRoleKey) == 200)

            // Revoke the service_role key: refused as an apikey, as a bearer on REST and on auth's
            // admin routes, and on the admin SQL route, which takes it in place of a token.
            let second = try await env.json(PrintedRotation.self, "keys", "revoke", "service_role", "--project", "app").keys
            #expect(second.serviceRoleKey != old.serviceRoleKey && second.anonKey == revoked.anonKey)
            #expect(try await get("/auth/v1/admin/users", apikey: old.serviceRoleKey) == 401)
            #expect(try await get("/auth/v1/admin/users", apikey: second.anonKey, bearer: old.serviceRoleKey) == 403)
            #expect(try await get("/rest/v1/", apikey: second.anonKey, bearer: old.serviceRoleKey) == 401)
            #expect(try await get("/auth/v1/admin/users", apikey: second.serviceRoleKey, bearer: second.serviceRoleKey) == 200)
            func sql(_ key: String) async throws -> Int {
                try await APIAndCLITests.curl([
                    "-X", "POST", "-H", "Authorization: Bearer \(key)", "-H", "Content-Type: application/json",
                    "-d", #"{"query":"select 1"}"#, env.url + "/api/v1/projects/app/branches/main/sql",
                ]).status
            }
            #expect(try await sql(old.serviceRoleKey) == 401)
            #expect(try await sql(second.serviceRoleKey) == 200)

            // Kept across a restart; journaled and audited; a revocation twice in one second still changes the key.
            await env.stopService()
            try await env.startService()
            #expect(try await get("/auth/v1/settings", apikey: old.anonKey) == 401)
            #expect(try await env.json(PrintedKeys.self, "keys", "--project", "app") == second)
            let third = try await env.json(PrintedRotation.self, "keys", "revoke", "service_role", "--project", "app").keys
            #expect(third.serviceRoleKey != second.serviceRoleKey)
            #expect(try await get("/auth/v1/admin/users", apikey: second.serviceRoleKey) == 401)
            let operations = try await env.json(OperationList.self, "operations", "--project", "app").operations
            #expect(operations.first?.kind == "project.keys.revoke" && operations.first?.state == "succeeded")
            let audit = try await env.cli("audit", "--json").stdout
            #expect(audit.contains("revokeProjectKey"), "\(audit)")

            // Rotating the secret starts afresh: both keys new, the session ended.
            let rotated = try await env.json(PrintedRotation.self, "keys", "rotate", "--project", "app").keys
            #expect(try await get("/auth/v1/settings", apikey: rotated.anonKey) == 200)
            #expect(try await get("/auth/v1/user", apikey: rotated.anonKey, bearer: session) == 403)

            // Bad input changes nothing.
            let badRole = try await env.cli("keys", "revoke", "admin", "--project", "app")
            #expect(!badRole.succeeded)
            #expect(try await env.errorCode("keys", "revoke", "anon", "--project", "nope") == "project_not_found")
            #expect(try await env.json(PrintedKeys.self, "keys", "--project", "app") == rotated)
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
