import BranchSystem
import BranchTesting
import Crypto
import Foundation
import Testing

/// Attacks on a real service, one environment for all of them: two projects, `alpha` (whose
/// owner token and keys are the attacker's) and `beta` (the target, with a canary table an
/// injection would drop). Every attack must be refused with the right status and a clear error,
/// and afterwards nothing has changed: the same projects, branches, snapshots, pool directories
/// and rows, and no response ever carried a secret. The requests go through
/// Tests/AttackClients/raw_http.py, which sends paths exactly as written (`..`, `%2e%2e`, `%00`),
/// and slow_clients.py, which misbehaves at the socket level.
@Suite("Attacks: every route refuses what it must, and nothing changes or leaks", .serialized)
struct AttackTests {
    @Test("another project's token and keys, low roles, dead credentials, forged JWTs, SQL injection, hostile names, huge and deep bodies, slow and numerous clients")
    func attacks() async throws {
        // Short header and body clocks so the slow clients are cut within seconds; few connections.
        let arguments = ["--http-header-timeout", "2s", "--http-body-grace", "2s", "--max-connections", "16"]
        try await TestEnvironment.with(serveArguments: arguments) { env in
            let world = try await World.make(env)
            let before = try await world.state()

            try await Self.anotherProjectsCredentials(world)
            try await Self.lowRoles(world)
            try await Self.forgedJWTs(world)
            try await Self.sqlInjection(world)
            try await Self.hostileNames(world)
            try await Self.oversizedAndDeepBodies(world)
            #expect(try await world.state() == before, "an attack changed something")

            try await Self.deadCredentials(world)
            try await Self.slowAndNumerousClients(world)
            #expect(await env.healthy(), "the service survived")

            // No answer carried a secret: the projects' JWT secrets and database passwords.
            for secret in world.secrets {
                #expect(!world.transcript.contains { $0.contains(secret) }, "a response carried a secret")
            }
        }
    }

    // MARK: A token or key of project A on project B

    static func anotherProjectsCredentials(_ world: World) async throws {
        // Every management route of project beta, with alpha's owner token: beta does not exist for it.
        let routes = try world.projectRoutes("beta")
        var requests = routes.map { Request($0.method, $0.path, token: world.alphaOwner, json: $0.method == "GET" ? nil : "{}") }
        // …and with alpha's service_role key, which reaches only alpha's SQL and migrations.
        requests += routes.map { Request($0.method, $0.path, token: world.alphaKeys.serviceRoleKey, json: $0.method == "GET" ? nil : "{}") }
        let answers = try await world.send(requests)
        for (request, answer) in zip(requests, answers) {
            let isKey = request.token == world.alphaKeys.serviceRoleKey
            if isKey {
                #expect(answer.status == 401 && answer.code == "unauthorized", "alpha's key: \(request.line) → \(answer.status) \(answer.text)")
            } else {
                #expect(answer.status == 404 && answer.code == "project_not_found", "alpha's owner: \(request.line) → \(answer.status) \(answer.text)")
            }
        }

        // Routes that name the project in the query or the body.
        let admin = #"{"project":"beta","sql":"drop table canary"}"#
        let filtered = try await world.send([
            Request("GET", "/api/v1/projects", token: world.alphaOwner),
            Request("GET", "/api/v1/audit?project=beta", token: world.alphaOwner),
            Request("GET", "/api/v1/events?project=beta", token: world.alphaOwner),
            Request("GET", "/api/v1/operations?project=beta", token: world.alphaOwner),
            Request("GET", "/api/v1/metrics?project=beta", token: world.alphaOwner),
            Request("GET", "/api/v1/backups?project=beta", token: world.alphaOwner),
            Request("POST", "/api/admin/query", token: world.alphaOwner, json: admin),
            Request("POST", "/api/admin/query", token: world.alphaKeys.serviceRoleKey, json: admin),
            Request("POST", "/api/v1/tokens", token: world.alphaOwner, json: #"{"project":"beta","role":"viewer","name":"steal"}"#),
        ])
        let listed = (filtered[0].json?["projects"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(listed == ["alpha"], "alpha's owner lists \(listed ?? [])")
        for answer in filtered.dropFirst().prefix(5) { #expect(answer.status == 404 && answer.code == "project_not_found", "\(answer.text)") }
        #expect([403, 404].contains(filtered[6].status), "admin query on beta with alpha's token: \(filtered[6].text)")
        #expect(filtered[7].status == 401, "admin query on beta with alpha's key: \(filtered[7].text)")
        #expect([403, 404].contains(filtered[8].status), "a token for beta made with alpha's token: \(filtered[8].text)")

        // The data API of beta with alpha's anon and service_role keys, as apikey and as bearer.
        let dataRoutes: [(String, String, String?)] = [
            ("GET", "/p/beta/rest/v1/items", nil), ("GET", "/p/beta/b/main/rest/v1/items", nil),
            ("POST", "/p/beta/rest/v1/items", #"{"id":9,"name":"stolen"}"#), ("DELETE", "/p/beta/rest/v1/items?id=gt.0", nil),
            ("POST", "/p/beta/rest/v1/rpc/whoami", "{}"), ("GET", "/p/beta/rest/v1/", nil),
            ("GET", "/p/beta/auth/v1/settings", nil), ("GET", "/p/beta/auth/v1/admin/users", nil),
            ("POST", "/p/beta/auth/v1/signup", #"{"email":"mallory@example.com","password":"a long password 1"}"#),
            ("GET", "/p/beta/openapi.json", nil), ("GET", "/p/beta/ai-spec.md", nil),
        ]
        var data: [Request] = []
        for key in [world.alphaKeys.anonKey, world.alphaKeys.serviceRoleKey] {
            for (method, path, body) in dataRoutes {
                data.append(Request(method, path, headers: ["apikey": key, "Authorization": "Bearer \(key)"], json: body))
            }
        }
        // Beta's anon key with alpha's service_role key as the bearer: the bearer is checked too.
        data.append(Request("GET", "/p/beta/rest/v1/items", headers: ["apikey": world.betaKeys.anonKey, "Authorization": "Bearer \(world.alphaKeys.serviceRoleKey)"]))
        for (request, answer) in zip(data, try await world.send(data)) {
            #expect(answer.status == 401, "\(request.line) with alpha's key → \(answer.status) \(answer.text)")
            #expect(answer.code != nil, "a clear error code: \(answer.text)")
        }
    }

    // MARK: Roles that are too low

    static func lowRoles(_ world: World) async throws {
        var requests: [(Request, expected: Set<Int>, who: String)] = []
        for route in try world.projectRoutes("beta") {
            let path = route.path
            // A diff and a read-only query change nothing: viewers may POST them.
            let mutating = route.method != "GET" && !path.hasSuffix("/diff") && !path.hasSuffix("/query")
            let ownerOnly = (path.hasSuffix("/beta") && route.method != "GET") || path.contains("/keys") || path.contains("/members")
                || (path.contains("/schedules/") && mutating)
            let developerRead = path.hasSuffix("/connection") || path.hasSuffix("/export")
            let body = route.method == "GET" ? nil : "{}"
            if mutating || ownerOnly || developerRead {
                requests.append((Request(route.method, path, token: world.betaViewer, json: body), [403], "viewer"))
            }
            if ownerOnly {
                requests.append((Request(route.method, path, token: world.betaDeveloper, json: body), [403], "developer"))
            }
        }
        // The instance admin's routes, for both.
        for token in [world.betaViewer, world.betaDeveloper] {
            for (method, path, body) in [
                ("GET", "/api/v1/users", nil), ("POST", "/api/v1/users", #"{"email":"x@example.com"}"#), ("GET", "/api/v1/status", nil),
                ("GET", "/metrics", nil), ("GET", "/api/v1/backups", nil), ("DELETE", "/api/v1/backups/nosuch", nil),
                ("DELETE", "/api/v1/users/admin%40localhost", nil), ("POST", "/api/v1/projects", #"{"name":"sneaky"}"#),
                ("POST", "/api/v1/tokens", #"{"project":"beta","role":"owner","name":"up"}"#),
            ] as [(String, String, String?)] {
                requests.append((Request(method, path, token: token, json: body), [403], "scoped \(token == world.betaViewer ? "viewer" : "developer")"))
            }
        }
        let answers = try await world.send(requests.map(\.0))
        for ((request, expected, who), answer) in zip(requests, answers) {
            #expect(expected.contains(answer.status) && answer.code == "forbidden", "\(who): \(request.line) → \(answer.status) \(answer.text)")
        }
    }

    // MARK: Revoked, expired and rotated credentials

    static func deadCredentials(_ world: World) async throws {
        let env = world.env
        // Revoked: works, is revoked, stops at once.
        let made = try await world.send([Request("POST", "/api/v1/tokens", token: env.token, json: #"{"project":"alpha","role":"owner","name":"doomed"}"#)])[0]
        let token = made.json?["token"] as? String ?? ""
        let id = (made.json?["info"] as? [String: Any])?["id"] as? String ?? ""
        let short = try await world.send([Request("POST", "/api/v1/tokens", token: env.token, json: #"{"name":"brief","expiresInSeconds":1}"#)])[0]
        let shortToken = short.json?["token"] as? String ?? ""
        #expect(try await world.send([Request("GET", "/api/v1/projects/alpha", token: token)])[0].status == 200)
        #expect(try await world.send([Request("DELETE", "/api/v1/tokens/\(id)", token: env.token)])[0].status == 200)
        try await Task.sleep(for: .milliseconds(1500))
        let dead = try await world.send([
            Request("GET", "/api/v1/projects/alpha", token: token), Request("DELETE", "/api/v1/projects/alpha?force=true", token: token),
            Request("GET", "/api/v1/projects", token: shortToken), Request("POST", "/api/v1/projects", token: shortToken, json: #"{"name":"late"}"#),
        ])
        for answer in dead { #expect(answer.status == 401 && answer.code == "unauthorized", "a dead token: \(answer.status) \(answer.text)") }

        // Rotated data API keys: the old ones stop at once, the new ones work.
        let rotated = try await env.cli("keys", "rotate", "--project", "alpha", "--json")
        #expect(rotated.succeeded, "\(rotated.stderr)")
        let fresh = try await env.json(Keys.self, "keys", "--project", "alpha")
        #expect(fresh.anonKey != world.alphaKeys.anonKey)
        var requests: [Request] = []
        for key in [world.alphaKeys.anonKey, world.alphaKeys.serviceRoleKey, fresh.serviceRoleKey] {
            requests.append(Request("GET", "/p/alpha/auth/v1/settings", headers: ["apikey": key]))
            requests.append(Request("GET", "/p/alpha/rest/v1/", headers: ["apikey": key, "Authorization": "Bearer \(key)"]))
        }
        requests.append(Request("POST", "/api/v1/projects/alpha/branches/main/sql", token: world.alphaKeys.serviceRoleKey, json: #"{"query":"select 1"}"#))
        let answers = try await world.send(requests)
        for answer in answers.prefix(4) { #expect(answer.status == 401 && answer.code == "invalid_api_key", "an old key: \(answer.status) \(answer.text)") }
        #expect(answers[4].status == 200 && answers[5].status == 200, "the new key: \(answers[4].text) \(answers[5].status)")
        #expect(answers[6].status == 401, "the old service_role key on the SQL endpoint: \(answers[6].text)")
        #expect(await env.healthy())
    }

    // MARK: Forged JWTs

    static func forgedJWTs(_ world: World) async throws {
        let secret = world.betaSecret
        let now = Int(Date().timeIntervalSince1970)
        let valid: [String: Any] = ["role": "authenticated", "sub": "6a1f0f8e-0000-4000-8000-000000000001", "exp": now + 600, "iat": now]
        func claims(_ changes: [String: Any?]) -> [String: Any] {
            var claims = valid
            for (name, value) in changes { claims[name] = value }
            return claims
        }
        // name, token, status and code as the bearer; whether it is no API key at all (bad signature, algorithm or expiry).
        let forged: [(String, String, status: Int, code: String?, badKey: Bool)] = [
            ("another secret", JWTForge.hs256(valid, secret: Array("not-the-project-secret-at-all-32b!".utf8)), 401, "PGRST301", true),
            ("alg none", JWTForge.none(claims(["role": "service_role"])), 401, "PGRST301", true),
            ("alg HS512 with the secret", JWTForge.hs512(claims(["role": "service_role"]), secret: secret), 401, "PGRST301", true),
            ("RS256 signed with the HMAC secret", JWTForge.hs256(claims(["role": "service_role"]), secret: secret, alg: "RS256"), 401, "PGRST301", true),
            ("expired", JWTForge.hs256(claims(["exp": now - 3600, "iat": now - 7200]), secret: secret), 401, "PGRST303", true),
            ("without exp", JWTForge.hs256(claims(["exp": nil, "role": "service_role"]), secret: secret), 401, "PGRST301", true),
            ("role postgres", JWTForge.hs256(claims(["role": "postgres"]), secret: secret), 401, "42501", false),
            ("role supabase_admin", JWTForge.hs256(claims(["role": "supabase_admin"]), secret: secret), 401, "42501", false),
            ("role authenticator", JWTForge.hs256(claims(["role": "authenticator"]), secret: secret), 401, "42501", false),
            ("role none", JWTForge.hs256(claims(["role": "none"]), secret: secret), 401, "42501", false),
            ("role pg_read_server_files", JWTForge.hs256(claims(["role": "pg_read_server_files"]), secret: secret), 401, "42501", false),
            ("an unknown role", JWTForge.hs256(claims(["role": "nosuchrole"]), secret: secret), 401, "22023", false),
            ("the project's owner role", JWTForge.hs256(claims(["role": "beta"]), secret: secret), 403, "42501", false),
            ("a role that is a number", JWTForge.hs256(claims(["role": 7]), secret: secret), 401, "PGRST301", false),
        ]
        var requests: [Request] = []
        for (_, token, _, _, _) in forged {
            requests.append(Request("POST", "/p/beta/rest/v1/rpc/whoami", headers: ["apikey": world.betaKeys.anonKey, "Authorization": "Bearer \(token)"], json: "{}"))
            // The same token as the API key itself.
            requests.append(Request("GET", "/p/beta/rest/v1/items", headers: ["apikey": token]))
        }
        let good = JWTForge.hs256(valid, secret: secret)
        requests.append(Request("POST", "/p/beta/rest/v1/rpc/whoami", headers: ["apikey": world.betaKeys.anonKey, "Authorization": "Bearer \(good)"], json: "{}"))
        // GoTrue's endpoints: a forged or expiry-less admin token is 403 bad_jwt.
        let auth = [
            JWTForge.none(claims(["role": "service_role"])), JWTForge.hs256(claims(["role": "supabase_admin", "exp": nil]), secret: secret),
            JWTForge.hs512(claims(["role": "service_role"]), secret: secret),
        ]
        for token in auth {
            requests.append(Request("GET", "/p/beta/auth/v1/admin/users", headers: ["apikey": world.betaKeys.anonKey, "Authorization": "Bearer \(token)"]))
            requests.append(Request("GET", "/p/beta/auth/v1/user", headers: ["apikey": world.betaKeys.anonKey, "Authorization": "Bearer \(token)"]))
        }
        let answers = try await world.send(requests)
        for (index, (name, _, status, code, badKey)) in forged.enumerated() {
            let bearer = answers[2 * index], asKey = answers[2 * index + 1]
            #expect(bearer.status == status && bearer.code == code, "JWT \(name) as bearer → \(bearer.status) \(bearer.text)")
            if badKey {
                #expect(asKey.status == 401 && asKey.code == "invalid_api_key", "JWT \(name) as the API key → \(asKey.status) \(asKey.text)")
            } else {
                // A good signature with a role it may not run as: refused like the bearer.
                #expect(asKey.status == status && asKey.code == code, "JWT \(name) as the API key → \(asKey.status) \(asKey.text)")
            }
        }
        let control = answers[2 * forged.count]
        #expect(control.status == 200 && control.text == #""authenticated""#, "a good token runs as its role: \(control.text)")
        for answer in answers.suffix(2 * auth.count) {
            #expect(answer.status == 403 && answer.code == "bad_jwt", "auth with a forged token → \(answer.status) \(answer.text)")
        }
    }

    // MARK: SQL injection

    static func sqlInjection(_ world: World) async throws {
        let key = world.betaKeys.serviceRoleKey
        func rest(_ method: String, _ path: String, _ headers: [String: String] = [:], json: String? = nil) -> Request {
            Request(method, "/p/beta/rest/v1/" + path, headers: ["apikey": key, "Authorization": "Bearer \(key)"].merging(headers) { $1 }, json: json)
        }
        let drop = "drop%20table%20canary"
        let attempts: [Request] = [
            rest("GET", "items?id=eq.1;\(drop)"), rest("GET", "items?id=eq.1%27;\(drop);--"),
            rest("GET", "items?select=id,(select%201)"), rest("GET", "items?select=id,name::text);\(drop);--"),
            rest("GET", "items?select=%22id%22%22;\(drop);--%22"), rest("GET", "items?select=na%5Cme"), rest("GET", "items?select=id%27"),
            rest("GET", "items?order=id;delete%20from%20canary"), rest("GET", "items?order=id.desc,(select%201)"),
            rest("GET", "items?order=%22id%22%22;\(drop);--%22"),
            rest("GET", "items?or=(id.eq.1,id.eq.2);\(drop)"), rest("GET", "items?and=(id.eq.1)%20or%201=1"),
            rest("GET", "items?id=in.(1);\(drop)"),
            rest("POST", "items?on_conflict=id);\(drop);--", ["Prefer": "resolution=merge-duplicates"], json: #"{"id":1,"name":"x"}"#),
            rest("POST", "items?columns=id,%22name%22%22);\(drop);--%22", json: #"{"id":5,"name":"x"}"#),
            rest("POST", "items?columns=id,name);\(drop);--", json: #"{"id":5,"name":"x"}"#),
            rest("POST", "items", json: #"{"id":5,"name); drop table canary; --":"x"}"#),
            rest("PATCH", "items?id=eq.1", json: #"{"name\"; drop table canary; --":"x"}"#),
            rest("GET", "items", ["Accept-Profile": "public;\(drop.removingPercentEncoding!)"]),
            rest("POST", "items", ["Content-Profile": "public\"; drop table canary; --"], json: #"{"id":6,"name":"x"}"#),
            rest("GET", "items;\(drop)"), rest("GET", "canary%22;\(drop);--"), rest("GET", "items%27;\(drop);--"),
            rest("POST", "rpc/whoami;\(drop)", json: "{}"), rest("POST", "rpc/echo", json: #"{"x); drop table canary; --":"1"}"#),
        ]
        let answers = try await world.send(attempts)
        for (request, answer) in zip(attempts, answers) {
            #expect((400..<500).contains(answer.status) && answer.code != nil, "injection \(request.line) → \(answer.status) \(answer.text)")
        }
        // RPC arguments and filter values are data: echoed back, never run.
        let payloads = ["'); drop table canary; --", "1; drop table canary", "$$; drop table canary; $$", "\\'; drop table canary; --", "x') or 1=1; --"]
        var echoes = payloads.map { rest("POST", "rpc/echo", json: String(decoding: try! JSONSerialization.data(withJSONObject: ["x": $0]), as: UTF8.self)) }
        echoes += payloads.map { rest("GET", "rpc/echo?x=" + $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!) }
        echoes += payloads.map { rest("GET", "items?name=eq." + $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!) }
        let echoed = try await world.send(echoes)
        for (index, payload) in (payloads + payloads).enumerated() {
            let text = String(decoding: try JSONSerialization.data(withJSONObject: [payload]), as: UTF8.self).dropFirst().dropLast()
            #expect(echoed[index].status == 200 && echoed[index].text == text, "RPC argument \(payload) → \(echoed[index].status) \(echoed[index].text)")
        }
        for answer in echoed.suffix(payloads.count) { #expect(answer.status == 200 && answer.text == "[]", "a filter value → \(answer.text)") }
        #expect(try await world.env.psql(world.betaDatabase, "select count(*) from canary") == "1", "the canary table survived")
    }

    // MARK: Hostile names

    /// Names as they would be written in a path: traversal, NUL, a right-to-left mark, homoglyphs
    /// (Cyrillic а and е), a name of 300 characters, a slash, spaces, capitals.
    static let hostileNames = [
        "..", "%2e%2e", "%2E%2E%2F%2E%2E%2Fetc", "..%2F..%2F..%2Fetc%2Fpasswd", "a%00b", "%00", "%E2%80%AEniam", "m%D0%B0in", "b%D0%B5ta",
        String(repeating: "x", count: 300), "%2F", "main%20", "MAIN", "%5C..%5C", "~root",
    ]

    static func hostileNames(_ world: World) async throws {
        var requests: [Request] = []
        for route in try APIAndCLITests.DocumentedRoute.all() where route.path.contains("{") {
            let parameters = route.path.split(separator: "{").dropFirst().compactMap { $0.split(separator: "}").first.map(String.init) }
            for parameter in parameters {
                for name in hostileNames {
                    var path = route.path.replacingOccurrences(of: "{\(parameter)}", with: name)
                    for (placeholder, value) in World.placeholders(project: "beta") { path = path.replacingOccurrences(of: placeholder, with: value) }
                    requests.append(Request(route.method, path, token: world.env.token, json: route.method == "GET" || route.method == "DELETE" ? nil : "{}"))
                }
            }
        }
        // Names in bodies, raw (a real NUL, the marks themselves).
        let raw = ["..", "x/y", "a\u{0}b", "\u{202E}niam", "m\u{0430}in", "b\u{0435}ta", String(repeating: "y", count: 300), "a\\b", "main\u{200B}"]
        for name in raw + [" main", "MAIN", "../x"] {
            let named = String(decoding: try JSONSerialization.data(withJSONObject: ["name": name]), as: UTF8.self)
            requests.append(Request("POST", "/api/v1/projects", token: world.env.token, json: named))
            requests.append(Request("POST", "/api/v1/projects/beta/branches", token: world.env.token, json: named))
            requests.append(Request("POST", "/api/v1/projects/beta/snapshots", token: world.env.token, json: named))
        }
        // Emails with what no email has: a NUL, direction marks, look-alike letters, slashes, dots at the edges.
        for name in raw {
            let email = String(decoding: try JSONSerialization.data(withJSONObject: ["email": name + "@example.com"]), as: UTF8.self)
            requests.append(Request("POST", "/api/v1/users", token: world.env.token, json: email))
        }
        let answers = try await world.send(requests)
        for (request, answer) in zip(requests, answers) {
            #expect((400..<500).contains(answer.status) && answer.status != 401 && answer.status != 403, "\(request.line) → \(answer.status) \(answer.text)")
            #expect(answer.code != nil, "a clear error code: \(request.line) → \(answer.text)")
        }
        // Every name a raw body gave is refused as invalid.
        for answer in answers.suffix(4 * raw.count + 3 * 3).dropLast(raw.count) { #expect(answer.code == "invalid_name", "\(answer.text)") }
        for answer in answers.suffix(raw.count) { #expect(answer.code == "invalid_request", "\(answer.text)") }

        // The data API: hostile projects, branches, tables and schemas.
        let key = world.betaKeys.serviceRoleKey
        var data: [Request] = []
        for name in hostileNames {
            for path in ["/p/\(name)/rest/v1/items", "/p/beta/b/\(name)/rest/v1/items", "/p/beta/rest/v1/\(name)", "/p/beta/rest/v1/rpc/\(name)", "/p/\(name)/auth/v1/settings"] {
                data.append(Request("GET", path, headers: ["apikey": key]))
            }
            data.append(Request("GET", "/p/beta/rest/v1/items", headers: ["apikey": key, "Accept-Profile": name.removingPercentEncoding ?? name]))
        }
        for name in ["a\u{0}b", "\u{202E}niam", "m\u{0430}in", String(repeating: "y", count: 300), "a\\b"] {
            let signup = String(decoding: try JSONSerialization.data(withJSONObject: ["email": name + "@example.com", "password": "a long password 1"]), as: UTF8.self)
            data.append(Request("POST", "/p/beta/auth/v1/signup", headers: ["apikey": world.betaKeys.anonKey], json: signup))
        }
        for (request, answer) in zip(data, try await world.send(data)) {
            #expect((400..<500).contains(answer.status), "\(request.line) → \(answer.status) \(answer.text)")
        }
    }

    // MARK: Bodies over the limits, JSON nested 10,000 deep

    static func oversizedAndDeepBodies(_ world: World) async throws {
        let env = world.env
        // Announced larger than the limit: refused before the body is read (the client sends 64 KiB of it).
        let announced: [(String, Int, String)] = [
            ("/api/v1/projects", 2 << 20, env.token), ("/api/v1/projects/beta/branches/main/sql", 17 << 20, env.token),
            ("/api/v1/projects/beta/branches/main/migrations", 17 << 20, env.token), ("/mcp", 17 << 20, env.token),
            ("/p/beta/rest/v1/items", 60 << 20, world.betaKeys.serviceRoleKey), ("/p/beta/auth/v1/signup", 2 << 20, world.betaKeys.anonKey),
        ]
        for (path, length, token) in announced {
            let run = try await PythonScript.run("Tests/AttackClients/slow_clients.py", ["declared", env.url, path, String(length), token], timeLimit: .seconds(60))
            let result = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)\(run.stderr)")
            world.record(result["answer"] as? String ?? "")
            #expect(result["status"] as? Int == 413 && (result["answer"] as? String)?.contains("payload_too_large") == true, "\(path): \(result)")
            #expect((result["seconds"] as? Double ?? 99) < 5, "\(path) answered without reading the body")
        }
        // Sent in full, over the limit.
        let big = String(repeating: "a", count: (1 << 20) + 10)
        let sent = try await world.send([
            Request("POST", "/api/v1/projects", token: env.token, json: #"{"name":"\#(big)"}"#),
            Request("POST", "/p/beta/auth/v1/signup", headers: ["apikey": world.betaKeys.anonKey], json: #"{"email":"\#(big)"}"#),
        ])
        for answer in sent { #expect(answer.status == 413 && answer.code == "payload_too_large", "\(answer.status) \(answer.text.prefix(300))") }

        // Nested 10,000 deep: 400, and the service carries on.
        let arrays = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let objects = String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        let key = world.betaKeys.serviceRoleKey
        let keyed = ["apikey": key, "Authorization": "Bearer \(key)"]
        let mcp = ["Accept": "application/json, text/event-stream"]
        let deep = [
            Request("POST", "/p/beta/rest/v1/items", headers: keyed, json: arrays),
            Request("POST", "/p/beta/rest/v1/items", headers: keyed, json: #"{"id":7,"name":\#(objects)}"#),
            Request("POST", "/p/beta/rest/v1/rpc/echo_json", headers: keyed, json: #"{"x":\#(objects)}"#),
            Request("POST", "/p/beta/rest/v1/rpc/echo_json", headers: keyed, json: arrays),
            Request("POST", "/p/beta/auth/v1/signup", headers: ["apikey": world.betaKeys.anonKey], json: #"{"email":"d@example.com","password":"a long password 1","data":\#(objects)}"#),
            Request("POST", "/api/v1/projects", token: env.token, json: #"{"name":\#(objects)}"#),
            Request("POST", "/api/v1/projects/beta/branches/main/sql", token: env.token, json: #"{"query":\#(arrays)}"#),
            Request("POST", "/api/admin/query", token: env.token, json: #"{"project":\#(arrays)}"#),
            Request("POST", "/mcp", headers: mcp.merging(["Authorization": "Bearer \(env.token)"]) { $1 }, json: arrays),
            Request("POST", "/mcp", headers: mcp.merging(["Authorization": "Bearer \(env.token)"]) { $1 },
                json: #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":\#(objects)}"#),
        ]
        for (request, answer) in zip(deep, try await world.send(deep)) {
            #expect(answer.status == 400, "10,000 deep: \(request.line) → \(answer.status) \(answer.text.prefix(300))")
        }
        #expect(await env.healthy())
        #expect(try await world.env.psql(world.betaDatabase, "select count(*) from items") == "2")
    }

    // MARK: Slow and numerous clients

    static func slowAndNumerousClients(_ world: World) async throws {
        let env = world.env
        func run(_ arguments: [String]) async throws -> [String: Any] {
            let run = try await PythonScript.run("Tests/AttackClients/slow_clients.py", arguments, timeLimit: .seconds(60))
            return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)\(run.stderr)")
        }
        // A header one byte every half second: 408 after the 2 s header timeout; others served meanwhile.
        let header = try await run(["header", env.url])
        let headerClosed = header["closedAfter"] as? Double ?? 99
        #expect(headerClosed >= 1.5 && headerClosed < 6, "\(header)")
        #expect((header["answer"] as? String)?.contains("408") == true && (header["answer"] as? String)?.contains("request_timeout") == true, "\(header)")
        #expect(header["otherStatus"] as? Int == 200 && (header["otherSeconds"] as? Double ?? 99) < 3, "\(header)")
        // A body one byte every half second: cut after the 2 s grace.
        let body = try await run(["body", env.url])
        let bodyClosed = body["closedAfter"] as? Double ?? 99
        #expect(bodyClosed >= 1.5 && bodyClosed < 8, "\(body)")
        #expect(body["otherStatus"] as? Int == 200 && (body["otherSeconds"] as? Double ?? 99) < 3, "\(body)")
        // Connections past --max-connections 16: 503 too_many_connections; those open keep working.
        let crowd = try await run(["connections", env.url, "40"])
        let accepted = crowd["accepted"] as? Int ?? 0
        #expect(accepted >= 8 && accepted <= 16, "\(crowd)")
        #expect(crowd["refusedStatus"] as? Int == 503 && (crowd["refusedAnswer"] as? String)?.contains("too_many_connections") == true, "\(crowd)")
        #expect(crowd["againStatus"] as? Int == 200 && crowd["afterStatus"] as? Int == 200, "\(crowd)")
        // Every response carries the security headers.
        let answer = try await world.send([Request("GET", "/api/v1/health"), Request("GET", "/p/beta/rest/v1/items", headers: ["apikey": world.betaKeys.anonKey])])
        for response in answer {
            #expect(response.headers["x-content-type-options"] == "nosniff" && response.headers["referrer-policy"] == "no-referrer", "\(response.headers)")
            #expect(response.headers["content-security-policy"]?.contains("frame-ancestors 'none'") == true, "\(response.headers)")
        }
    }
}

// MARK: The world under attack

/// What `branch keys --json` prints.
struct Keys: Decodable {
    let url: String
    let anonKey: String
    let serviceRoleKey: String
}

/// One request as raw_http.py sends it.
struct Request {
    var method: String
    var path: String
    var headers: [String: String] = [:]
    var body: String?
    /// The management token it carries, if any (for messages).
    var token: String?

    init(_ method: String, _ path: String, token: String? = nil, headers: [String: String] = [:], json: String? = nil) {
        self.method = method
        self.path = path
        self.token = token
        self.headers = headers
        if let token { self.headers["Authorization"] = "Bearer \(token)" }
        if let json {
            self.body = json
            self.headers["Content-Type"] = "application/json"
        }
    }

    var line: String { "\(method) \(path.prefix(160))" }
}

/// One answer: the status, the body's text and JSON, and the error code in either shape
/// (`{"error":{"code"}}` of the management API, `{"code"}` of the data API).
struct Answer {
    let status: Int
    let text: String
    let headers: [String: String]

    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] }
    var code: String? {
        guard let json else { return nil }
        if let error = json["error"] as? [String: Any] { return error["code"] as? String }
        if let code = json["code"] as? String { return code }
        return json["error_code"] as? String
    }
}

final class World: @unchecked Sendable {
    let env: TestEnvironment
    let alphaKeys: Keys
    let betaKeys: Keys
    /// alpha's owner token (made with `branch token create --project alpha --role owner`).
    let alphaOwner: String
    /// Tokens scoped to beta with a low role.
    let betaViewer: String
    let betaDeveloper: String
    let betaDatabase: String
    let betaSecret: [UInt8]
    /// Every secret the service must never send back.
    let secrets: [String]
    /// Every response body, for the secrets check at the end.
    private(set) var transcript: [String] = []

    private init(
        env: TestEnvironment, alphaKeys: Keys, betaKeys: Keys, alphaOwner: String, betaViewer: String, betaDeveloper: String,
        betaDatabase: String, betaSecret: [UInt8], secrets: [String]
    ) {
        self.env = env
        self.alphaKeys = alphaKeys
        self.betaKeys = betaKeys
        self.alphaOwner = alphaOwner
        self.betaViewer = betaViewer
        self.betaDeveloper = betaDeveloper
        self.betaDatabase = betaDatabase
        self.betaSecret = betaSecret
        self.secrets = secrets
    }

    static func make(_ env: TestEnvironment) async throws -> World {
        for project in ["alpha", "beta"] {
            let created = try await env.cli("project", "create", project)
            guard created.succeeded else { throw TestFailure("`branch project create \(project)` failed: \(created.stderr)") }
        }
        let betaDatabase = try await env.cli("url", "main", "--project", "beta").output
        try await env.psql(betaDatabase, """
            create table canary (id int primary key); insert into canary values (1);
            create table items (id int primary key, name text); insert into items values (1, 'one'), (2, 'two');
            create function echo(x text) returns text language sql as $$ select x $$;
            create function echo_json(x jsonb) returns jsonb language sql as $$ select x $$;
            create function whoami() returns text language sql as $$ select current_user::text $$;
            """)
        func token(_ arguments: String...) async throws -> String {
            let result = try await env.cli(["token", "create"] + arguments + ["--json"])
            guard result.succeeded, let printed = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                let token = printed["token"] as? String
            else { throw TestFailure("`branch token create \(arguments.joined(separator: " "))` failed: \(result.stderr)") }
            return token
        }
        let alphaDatabase = try await env.cli("url", "main", "--project", "alpha").output
        let passwords = [alphaDatabase, betaDatabase].compactMap { URLComponents(string: $0)?.password }
        let alphaSecret = try await DataAPITests.jwtSecret(env, project: "alpha")
        let betaSecret = try await DataAPITests.jwtSecret(env, project: "beta")
        return World(
            env: env, alphaKeys: try await env.json(Keys.self, "keys", "--project", "alpha"),
            betaKeys: try await env.json(Keys.self, "keys", "--project", "beta"),
            alphaOwner: try await token("--project", "alpha", "--role", "owner", "--name", "alpha-owner"),
            betaViewer: try await token("--project", "beta", "--role", "viewer", "--name", "beta-viewer"),
            betaDeveloper: try await token("--project", "beta", "--role", "developer", "--name", "beta-developer"),
            betaDatabase: betaDatabase, betaSecret: Array(betaSecret.utf8), secrets: passwords + [alphaSecret, betaSecret])
    }

    /// Values for a route's placeholders (a snapshot that does not exist: nothing may be touched).
    static func placeholders(project: String) -> [(String, String)] {
        [("{project}", project), ("{branch}", "main"), ("{snapshot}", "nosuch"), ("{kind}", "snapshot"), ("{version}", "1"),
         ("{email}", "x%40example.com"), ("{backup}", "nosuch"), ("{job}", "nosuch"), ("{token}", "nosuch")]
    }

    /// Every documented route under `/api/v1/projects/{project}`, filled in.
    func projectRoutes(_ project: String) throws -> [(method: String, path: String)] {
        try APIAndCLITests.DocumentedRoute.all().filter { $0.path.contains("{project}") }.map { route in
            var path = route.path
            for (placeholder, value) in Self.placeholders(project: project) { path = path.replacingOccurrences(of: placeholder, with: value) }
            return (route.method, path)
        }
    }

    /// Sends `requests` in order through raw_http.py; every body is kept for the secrets check.
    func send(_ requests: [Request]) async throws -> [Answer] {
        let list: [[String: Any]] = requests.map { request in
            var item: [String: Any] = ["method": request.method, "path": request.path, "headers": request.headers]
            if let body = request.body { item["body"] = body }
            return item
        }
        let file = "\(env.root)/requests-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: list).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let run = try await PythonScript.run("Tests/AttackClients/raw_http.py", [env.url, file], timeLimit: .seconds(240))
        guard run.status == 0, let parsed = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]],
            parsed.count == requests.count
        else { throw TestFailure("raw_http.py failed (\(run.status)): \(run.stderr.suffix(2000))") }
        let answers = parsed.map { item in
            Answer(status: item["status"] as? Int ?? 0, text: item["body"] as? String ?? "", headers: item["headers"] as? [String: String] ?? [:])
        }
        transcript += answers.map(\.text)
        return answers
    }

    func record(_ text: String) { transcript.append(text) }

    /// What an attack must not change: projects, beta's branches and snapshots (by the API), the
    /// pool's directories, beta's rows and tables.
    struct State: Equatable {
        var projects: [String]
        var branches: [String]
        var snapshots: Int
        var directories: [String: [String]]
        var rows: String
    }

    func state() async throws -> State {
        let answers = try await send([
            Request("GET", "/api/v1/projects", token: env.token), Request("GET", "/api/v1/projects/beta/branches", token: env.token),
            Request("GET", "/api/v1/projects/beta/snapshots", token: env.token),
        ])
        func names(_ answer: Answer, _ key: String) -> [String] {
            ((answer.json?[key] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }.sorted()
        }
        var directories: [String: [String]] = [:]
        for relative in ["", "projects", "projects/alpha", "projects/beta", "projects/beta/branches", "projects/beta/snapshots", "projects/alpha/branches"] {
            directories[relative] = ((try? FileManager.default.contentsOfDirectory(atPath: "\(env.pool)/\(relative)")) ?? []).sorted()
        }
        let rows = try await env.psql(betaDatabase, """
            select (select count(*) from canary) || ' ' || (select count(*) from items) || ' ' || \
            (select string_agg(tablename, ',' order by tablename) from pg_tables where schemaname = 'public')
            """)
        return State(
            projects: names(answers[0], "projects"), branches: names(answers[1], "branches"),
            snapshots: (answers[2].json?["snapshots"] as? [Any])?.count ?? -1, directories: directories, rows: rows)
    }
}

/// JWTs as an attacker makes them: signed with a secret under any algorithm's name, or unsigned.
enum JWTForge {
    static func segment(_ object: [String: Any]) -> String {
        base64URL(Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])))
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// HMAC-SHA256 over the token, whatever `alg` the header claims.
    static func hs256(_ claims: [String: Any], secret: [UInt8], alg: String = "HS256") -> String {
        let input = segment(["alg": alg, "typ": "JWT"]) + "." + segment(claims)
        return input + "." + base64URL(Array(HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: secret))))
    }

    static func hs512(_ claims: [String: Any], secret: [UInt8]) -> String {
        let input = segment(["alg": "HS512", "typ": "JWT"]) + "." + segment(claims)
        return input + "." + base64URL(Array(HMAC<SHA512>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: secret))))
    }

    static func none(_ claims: [String: Any]) -> String { segment(["alg": "none", "typ": "JWT"]) + "." + segment(claims) + "." }
}
