import BranchAPI
import BranchSystem
import BranchTesting
import Foundation
import Testing

@Suite("Users, roles, tokens and the audit log: every route refuses who may not use it", .serialized)
struct AccessTests {
    typealias Answer = AgentSQLTests.Answer

    static func call(_ env: TestEnvironment, _ method: String, _ path: String, _ body: Any? = nil, token: String?) async throws -> Answer {
        if let token { return try await AgentSQLTests.call(env, method, path, body, key: token) }
        var arguments = ["-X", method, env.url + path]
        if let body {
            arguments += ["-H", "Content-Type: application/json", "--data-binary", String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)]
        }
        let (status, text) = try await APIAndCLITests.curl(arguments)
        return Answer(status: status, body: (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:])
    }

    /// Signs a user in and returns their new token.
    static func login(_ env: TestEnvironment, _ email: String, _ password: String, extra: [String: Any] = [:]) async throws -> String {
        let answer = try await call(env, "POST", "/api/v1/login", ["email": email, "password": password].merging(extra) { $1 }, token: nil)
        #expect(answer.status == 201, "login of \(email): \(answer.body)")
        return answer.body["token"] as? String ?? ""
    }

    static func createUser(_ env: TestEnvironment, _ email: String) async throws -> String {
        let created = try await env.cli("user", "create", email, "--json")
        #expect(created.succeeded, "\(created.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any]
        return object?["password"] as? String ?? ""
    }

    /// Every documented route under `/api/v1/projects/{project}`, with its placeholders filled in.
    static func projectRoutes(_ project: String) throws -> [(method: String, path: String)] {
        try APIAndCLITests.DocumentedRoute.all().filter { $0.path.hasPrefix("/api/v1/projects/{project}") }.map { route in
            var path = route.path.replacingOccurrences(of: "{project}", with: project)
            for (name, value) in ["{branch}": "main", "{snapshot}": "nosuch", "{kind}": "snapshot", "{version}": "1", "{email}": "x%40y.z"] {
                path = path.replacingOccurrences(of: name, with: value)
            }
            return (route.method, path)
        }
    }

    @Test("the first start makes the admin; owners, developers and viewers get exactly their routes; strangers see nothing; revoked and expired tokens stop at once; all of it is audited")
    func roles() async throws {
        try await TestEnvironment.with { env in
            // The instance admin, made at the first start; the admin key is their first token.
            let login = try #require(Files.read("\(env.pool)/admin.password")).split(separator: "\n").map(String.init)
            #expect(login.first == "admin@localhost")
            #expect(try FileManager.default.attributesOfItem(atPath: "\(env.pool)/admin.password")[.posixPermissions] as? Int == 0o600)
            let adminByPassword = try await Self.login(env, login[0], login[1])
            let me = try await Self.call(env, "GET", "/api/v1/me", token: adminByPassword)
            #expect((me.body["user"] as? [String: Any])?["admin"] as? Bool == true)
            let tokens = try await env.cli("token", "list")
            #expect(tokens.stdout.contains("admin.key"), "\(tokens.stdout)")

            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            _ = try await env.json(ProjectCreated.self, "project", "create", "other")
            var passwords: [String: String] = [:]
            for name in ["alice", "bob", "carol", "dave"] { passwords[name] = try await Self.createUser(env, "\(name)@example.com") }
            for (name, role) in [("alice", "owner"), ("bob", "developer"), ("carol", "viewer")] {
                let added = try await env.cli("member", "add", "\(name)@example.com", "--project", "app", "--role", role)
                #expect(added.succeeded, "\(added.stderr)")
            }
            var token: [String: String] = [:]
            for name in ["alice", "bob", "carol", "dave"] { token[name] = try await Self.login(env, "\(name)@example.com", passwords[name]!) }

            // Passwords are scrypt hashes; the catalog holds no password.
            let catalog = try Data(contentsOf: URL(fileURLWithPath: "\(env.pool)/catalog.sqlite"))
            let wal = (try? Data(contentsOf: URL(fileURLWithPath: "\(env.pool)/catalog.sqlite-wal"))) ?? Data()
            for password in passwords.values + [login[1]] {
                #expect(catalog.range(of: Data(password.utf8)) == nil && wal.range(of: Data(password.utf8)) == nil)
            }

            // Projects: each sees those they have a role in.
            let daveProjects = try await Self.call(env, "GET", "/api/v1/projects", token: token["dave"])
            #expect((daveProjects.body["projects"] as? [Any])?.isEmpty == true)
            let carolProjects = try await Self.call(env, "GET", "/api/v1/projects", token: token["carol"])
            #expect((carolProjects.body["projects"] as? [[String: Any]])?.map { $0["name"] as? String } == ["app"])

            // Every route of the project, for every role.
            for (method, path) in try Self.projectRoutes("app") {
                let mutating = method != "GET" && !path.hasSuffix("/diff") && !path.hasSuffix("/query")
                let ownerOnly = path.hasSuffix("/app") && method != "GET" || path.contains("/keys") || path.contains("/members")
                    || (path.contains("/schedules/") && mutating) || path.contains("/auth/")
                let developerRead = path.hasSuffix("/connection") || path.hasSuffix("/export")
                let dave = try await Self.call(env, method, path, [:], token: token["dave"])
                #expect(dave.status == 404 && dave.code == "project_not_found", "dave \(method) \(path): \(dave.status) \(dave.body)")
                let carol = try await Self.call(env, method, path, [:], token: token["carol"])
                if mutating || developerRead || ownerOnly {
                    #expect(carol.status == 403 && carol.code == "forbidden", "carol (viewer) \(method) \(path): \(carol.status)")
                } else {
                    #expect(carol.status != 403 && carol.status != 401, "carol (viewer) \(method) \(path): \(carol.status)")
                }
                if ownerOnly {
                    let bob = try await Self.call(env, method, path, [:], token: token["bob"])
                    #expect(bob.status == 403, "bob (developer) \(method) \(path): \(bob.status)")
                }
                let other = path.replacingOccurrences(of: "/projects/app", with: "/projects/other")
                let alice = try await Self.call(env, method, other, [:], token: token["alice"])
                #expect(alice.status == 404, "alice on another project \(method) \(other): \(alice.status)")
            }
            // What a developer may do, they can; the instance-only routes are the admin's.
            let branch = try await Self.call(env, "POST", "/api/v1/projects/app/branches", ["name": "bobs"], token: token["bob"])
            #expect(branch.status == 201, "\(branch.body)")
            for path in ["/api/v1/status", "/api/v1/users", "/metrics", "/api/v1/backups", "/api/v1/operations"] {
                #expect(try await Self.call(env, "GET", path, token: token["alice"]).status == 403, "\(path)")
            }
            #expect(try await Self.call(env, "GET", "/api/v1/operations?project=app", token: token["carol"]).status == 200)

            // A project-scoped token reaches only its project, with at most its role.
            let scoped = try await Self.call(env, "POST", "/api/v1/tokens", ["project": "app", "role": "viewer", "name": "ci"], token: token["alice"])
            let viewerToken = scoped.body["token"] as? String ?? ""
            #expect(try await Self.call(env, "GET", "/api/v1/projects/app", token: viewerToken).status == 200)
            #expect(try await Self.call(env, "POST", "/api/v1/projects/app/snapshots", [:], token: viewerToken).status == 403)
            #expect(try await Self.call(env, "POST", "/api/v1/projects", ["name": "x"], token: viewerToken).status == 403)
            let escalate = try await Self.call(env, "POST", "/api/v1/tokens", ["project": "app", "role": "owner"], token: token["bob"])
            #expect(escalate.status == 403, "a developer cannot make an owner token: \(escalate.body)")

            // Revoked and expired tokens stop at once.
            let info = scoped.body["info"] as? [String: Any]
            let revoke = try await Self.call(env, "DELETE", "/api/v1/tokens/\(info?["id"] as? String ?? "")", token: token["alice"])
            #expect(revoke.status == 200)
            #expect(try await Self.call(env, "GET", "/api/v1/projects/app", token: viewerToken).status == 401)
            let shortLived = try await Self.login(env, "carol@example.com", passwords["carol"]!, extra: ["expiresInSeconds": 1])
            try await Task.sleep(for: .seconds(2))
            #expect(try await Self.call(env, "GET", "/api/v1/projects/app", token: shortLived).status == 401)

            // A user who makes a project owns it.
            let made = try await Self.call(env, "POST", "/api/v1/projects", ["name": "bobsown"], token: token["bob"])
            #expect(made.status == 201, "\(made.body)")
            #expect(try await Self.call(env, "GET", "/api/v1/projects/bobsown/keys", token: token["bob"]).status == 200)

            // Sign-in failures lock the account for a while, even with the right password then.
            for _ in 0..<10 {
                let wrong = try await Self.call(env, "POST", "/api/v1/login", ["email": "carol@example.com", "password": "wrong password!"], token: nil)
                #expect(wrong.status == 401)
            }
            let locked = try await Self.call(env, "POST", "/api/v1/login", ["email": "carol@example.com", "password": passwords["carol"]!], token: nil)
            #expect(locked.status == 429 && locked.code == "sign_in_locked", "\(locked.body)")

            // The audit log: who did what, from where, and how it ended; an owner reads their project's.
            let audit = try await Self.call(env, "GET", "/api/v1/audit?project=app", token: token["alice"])
            let entries = audit.body["entries"] as? [[String: Any]] ?? []
            let created = entries.first { $0["action"] as? String == "createBranch" && $0["outcome"] as? String == "ok" }
            #expect((created?["actor"] as? String)?.contains("bob@example.com") == true, "\(entries.suffix(3))")
            #expect(created?["address"] as? String == "127.0.0.1")
            #expect(entries.contains { $0["outcome"] as? String == "forbidden" && ($0["actor"] as? String)?.contains("carol") == true })
            #expect(try await Self.call(env, "GET", "/api/v1/audit?project=app", token: token["carol"]).status == 403)
            let cli = try await env.cli("audit", "--project", "app", "--jsonl")
            #expect(cli.succeeded && cli.stdout.split(separator: "\n").count == entries.count, "\(cli.stderr)")

            // Deleting a user ends their tokens; the last admin stays.
            #expect(try await env.cli("user", "delete", "dave@example.com").succeeded)
            #expect(try await Self.call(env, "GET", "/api/v1/projects", token: token["dave"]).status == 401)
            #expect(try await env.errorCode("user", "delete", "admin@localhost") == "last_admin")
        }
    }
}
