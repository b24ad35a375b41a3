import BranchAPI
import BranchSystem
import BranchTesting
import Foundation
import Testing

/// A project's IP allowlist, attacked from outside on each of the three paths: the pooler
/// (PgBouncer's hba), the branch's own server (pg_hba.conf) and the HTTP APIs (management, REST,
/// auth, agent documents, MCP tool calls). Clients here come from 127.0.0.1, so a list of
/// 10.0.0.0/8 puts them outside it.
@Suite("IP allowlists: a client outside a project's list is refused on every path", .serialized)
struct AllowlistTests {
    typealias Answer = AgentSQLTests.Answer

    @Test("outside the list: pooler, branch server, API, REST, auth, documents and MCP refuse; other projects are unaffected; inside again, all work; '' clears; a bad CIDR changes nothing")
    func outsideTheList() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            _ = try await env.json(ProjectCreated.self, "project", "create", "other")
            let created = try await env.cli("create", "feat", "--project", "app")
            #expect(created.succeeded, "\(created.stderr)")
            // The service_role key: the REST root (the schema's OpenAPI) answers it, not anon.
            let serviceKey = try #require(try await AgentSQLTests.call(env, "GET", "/api/v1/projects/app/keys").body["serviceRoleKey"] as? String)
            let otherServiceKey = try #require(try await AgentSQLTests.call(env, "GET", "/api/v1/projects/other/keys").body["serviceRoleKey"] as? String)

            // Only two ports face the network: branch servers listen on loopback by default.
            let port = try #require(try await AgentSQLTests.call(env, "GET", "/api/v1/projects/app/branches/feat").body["port"] as? Int)
            let listening = Self.listeningAddresses(port: port)
            #expect(!listening.isEmpty, "nothing listens on the branch's port \(port)")
            #expect(Set(listening).isSubset(of: ["127.0.0.1", "::1"]), "branch server listens on \(listening)")

            // `branch url BRANCH` is the branch's pooled entry; --direct is its own server.
            let pooled = try await env.cli("url", "--project", "app").output
            let pooledBranch = try await env.cli("url", "feat", "--project", "app").output
            let direct = try await env.cli("url", "feat", "--direct", "--project", "app").output
            #expect(pooledBranch.contains(":\(env.poolerPort)/app__feat"), "\(pooledBranch)")
            #expect(direct.contains(":\(port)/app"), "\(direct)")
            let otherURL = try await env.cli("url", "--project", "other").output
            let branchInfo = try await AgentSQLTests.call(env, "GET", "/api/v1/projects/app/branches/feat")
            #expect(branchInfo.body["poolerDatabase"] as? String == "app__feat")
            for url in [pooled, pooledBranch, direct] { #expect(try await env.psql(url, "select 1") == "1") }

            // An open project says so.
            let openShow = try await env.cli("project", "show", "app")
            #expect(openShow.stdout.contains("every address") && openShow.stdout.contains("warning"), "\(openShow.stdout)")

            // Outside the list.
            let set = try await env.cli("project", "set", "app", "--allow", "10.0.0.0/8")
            #expect(set.succeeded, "\(set.stderr)")
            let shown = try await env.json(ProjectInfo.self, "project", "show", "app")
            #expect(shown.allowlist == ["10.0.0.0/8"])
            #expect(!(try await env.cli("project", "show", "app")).stdout.contains("warning"))
            try await Self.expectRefused(env, pooled: pooled, pooledBranch: pooledBranch, direct: direct, serviceKey: serviceKey)
            // The other project is not affected, on any path.
            #expect(try await env.psql(otherURL, "select 1") == "1")
            #expect(try await AgentSQLTests.call(env, "GET", "/api/v1/projects/other/branches").status == 200)
            let otherREST = try await Self.data(env, "/p/other/rest/v1/", key: otherServiceKey)
            #expect(otherREST.status == 200, "\(otherREST.status) \(otherREST.body)")
            let otherTool = try await Self.mcpTool(env, "list_branches", ["project": "other"])
            #expect(otherTool["isError"] as? Bool != true, "\(otherTool)")

            // A bad CIDR is refused with a clear code and changes nothing.
            for bad in ["10.0.0.0/33", "10.1.2.3/8", "nonsense", "127.0.0.0/8,300.1.1.1"] {
                #expect(try await env.errorCode("project", "set", "app", "--allow", bad) == "invalid_cidr")
            }
            let invalid = try await AgentSQLTests.call(env, "PATCH", "/api/v1/projects/app", ["allowlist": ["fe80::/200"]])
            #expect(invalid.status == 400 && invalid.code == "invalid_cidr", "\(invalid.body)")
            #expect(try await env.json(ProjectInfo.self, "project", "show", "app").allowlist == ["10.0.0.0/8"])
            try await Self.expectRefused(env, pooled: pooled, pooledBranch: pooledBranch, direct: direct, serviceKey: serviceKey)

            // A restart of the service keeps it: servers and pooler start with the list.
            #expect(await env.stopService() == 0)
            try await env.startService()
            #expect(try await Self.connects(direct) == false)
            #expect(try await Self.connects(pooledBranch) == false)
            #expect(try await Self.connects(otherURL))

            // Inside the list: everything works again, without a restart.
            let inside = try await env.cli("project", "set", "app", "--allow", "127.0.0.0/8,2001:db8::/32")
            #expect(inside.succeeded, "\(inside.stderr)")
            #expect(try await env.json(ProjectInfo.self, "project", "show", "app").allowlist == ["127.0.0.0/8", "2001:db8::/32"])
            for url in [pooled, pooledBranch, direct] { #expect(try await env.psql(url, "select 1") == "1") }
            #expect(try await AgentSQLTests.call(env, "GET", "/api/v1/projects/app/branches").status == 200)
            let appREST = try await Self.data(env, "/p/app/rest/v1/", key: serviceKey)
            #expect(appREST.status == 200, "\(appREST.status) \(appREST.body)")
            #expect(try await Self.data(env, "/p/app/auth/v1/settings", key: serviceKey).status == 200)
            let tool = try await Self.mcpTool(env, "list_branches", ["project": "app"])
            #expect(tool["isError"] as? Bool != true, "\(tool)")

            // '' clears: open again, and `project show` warns.
            let cleared = try await env.cli("project", "set", "app", "--allow", "")
            #expect(cleared.succeeded, "\(cleared.stderr)")
            #expect(try await env.json(ProjectInfo.self, "project", "show", "app").allowlist == [])
            #expect(try await env.cli("project", "show", "app").stdout.contains("open to every address"))
            #expect(try await env.psql(pooled, "select 1") == "1")

            // A project made with a list has it from its first connection, and `show` says so.
            let locked = try await env.json(ProjectCreated.self, "project", "create", "locked", "--allow", "10.0.0.0/8")
            #expect(locked.project.allowlist == ["10.0.0.0/8"])
            #expect(try await Self.connects(locked.connection.url) == false)
            let lockedBranches = try await AgentSQLTests.call(env, "GET", "/api/v1/projects/locked/branches")
            #expect(lockedBranches.status == 403 && lockedBranches.code == "address_not_allowed")

            // Every change was audited, with the caller's address; the refused ones too.
            let audit = try await AgentSQLTests.call(env, "GET", "/api/v1/audit?project=app")
            let entries = audit.body["entries"] as? [[String: Any]] ?? []
            let updates = entries.filter { $0["action"] as? String == "updateProject" }
            #expect(updates.filter { $0["outcome"] as? String == "ok" }.count == 3, "\(updates)")
            #expect(updates.contains { $0["status"] as? Int == 400 }, "\(updates)")
            #expect(updates.allSatisfy { $0["address"] as? String == "127.0.0.1" })
            #expect(entries.contains { $0["action"] as? String == "createSnapshot" && $0["status"] as? Int == 403 }, "\(entries)")
        }
    }

    @Test("branch servers listen on loopback by default; --db-listen opens them; a restart applies it, even to servers a crashed service left running")
    func listenAddresses() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            let port = try #require(try await AgentSQLTests.call(env, "GET", "/api/v1/projects/app/branches/main").body["port"] as? Int)
            let direct = try await env.cli("url", "main", "--direct", "--project", "app").output
            #expect(Set(Self.listeningAddresses(port: port)).isSubset(of: ["127.0.0.1", "::1"]))
            #expect(Self.listeningAddresses(port: port).contains("127.0.0.1"))

            // The service dies; the next one is told to open the servers: the adopted server is restarted.
            await env.killService()
            try await env.startService(arguments: ["--db-listen", "0.0.0.0"])
            #expect(Self.listeningAddresses(port: port) == ["0.0.0.0"], "\(Self.listeningAddresses(port: port))")
            #expect(try await env.psql(direct, "select 1") == "1")

            // A clean restart without it: loopback again.
            #expect(await env.stopService() == 0)
            try await env.startService()
            #expect(Set(Self.listeningAddresses(port: port)).isSubset(of: ["127.0.0.1", "::1"]))
            #expect(!Self.listeningAddresses(port: port).isEmpty)
            #expect(try await env.psql(direct, "select 1") == "1")
        }
    }

    /// Every path of project `app` refuses a client from 127.0.0.1.
    static func expectRefused(_ env: TestEnvironment, pooled: String, pooledBranch: String, direct: String, serviceKey: String) async throws {
        // The pooler, both entries; the branch's own server over TCP.
        for url in [pooled, pooledBranch] {
            let result = try await Command.run(TestEnvironment.psqlBinary, [url, "-X", "-Atc", "select 1"], check: false)
            #expect(!result.succeeded, "pooler let \(url) in")
        }
        let refused = try await Command.run(TestEnvironment.psqlBinary, [direct, "-X", "-Atc", "select 1"], check: false)
        #expect(!refused.succeeded && refused.stderr.contains("pg_hba.conf"), "\(refused.stderr)")

        // The management API: reads and changes, the instance admin included.
        for (method, path, body) in [
            ("GET", "/api/v1/projects/app/branches", nil), ("GET", "/api/v1/projects/app/connection", nil),
            ("POST", "/api/v1/projects/app/snapshots", [String: Any]()), ("POST", "/api/v1/projects/app/branches/main/sql", ["query": "select 1"]),
            ("GET", "/api/v1/audit?project=app", nil),
        ] as [(String, String, [String: Any]?)] {
            let answer = try await AgentSQLTests.call(env, method, path, body)
            #expect(answer.status == 403 && answer.code == "address_not_allowed", "\(method) \(path): \(answer.status) \(answer.body)")
            if method == "GET" && path.hasSuffix("/branches") {
                let hint = answer.error["hint"] as? String ?? ""
                #expect(hint.contains("branch project set app --allow"), "\(hint)")
            }
        }
        let adminQuery = try await AgentSQLTests.call(env, "POST", "/api/admin/query", ["project": "app", "sql": "select 1"])
        #expect(adminQuery.status == 403 && adminQuery.code == "address_not_allowed", "\(adminQuery.body)")

        // The data API (REST, auth) and the branch's documents for agents.
        for path in ["/p/app/rest/v1/", "/p/app/b/feat/rest/v1/", "/p/app/auth/v1/settings", "/p/app/b/feat/ai-spec.md", "/p/app/openapi.json"] {
            let answer = try await Self.data(env, path, key: serviceKey)
            #expect(answer.status == 403 && answer.code == "address_not_allowed", "\(path): \(answer.status) \(answer.body)")
        }

        // MCP: the tools call the API for the original client, which is refused.
        for (name, arguments) in [("list_branches", ["project": "app"]), ("run_sql", ["project": "app", "branch": "main", "query": "select 1"])] {
            let result = try await Self.mcpTool(env, name, arguments)
            let code = (result["structuredContent"] as? [String: Any]).flatMap { ($0["error"] as? [String: Any])?["code"] as? String }
            #expect(result["isError"] as? Bool == true && code == "address_not_allowed", "\(name): \(result)")
        }
    }

    /// A data API request with `key` as apikey and bearer.
    static func data(_ env: TestEnvironment, _ path: String, key: String) async throws -> Answer {
        let (status, text) = try await APIAndCLITests.curl(["-H", "apikey: \(key)", "-H", "Authorization: Bearer \(key)", env.url + path])
        return Answer(status: status, body: (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:])
    }

    /// One MCP tool call over `/mcp` with the admin token; the JSON-RPC result.
    static func mcpTool(_ env: TestEnvironment, _ name: String, _ arguments: [String: String]) async throws -> [String: Any] {
        let message: [String: Any] = ["jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": ["name": name, "arguments": arguments]]
        let (status, text) = try await APIAndCLITests.curl([
            "-X", "POST", "-H", "Authorization: Bearer \(env.token)", "-H", "Content-Type: application/json",
            "-H", "Accept: application/json, text/event-stream",
            "--data-binary", String(decoding: try JSONSerialization.data(withJSONObject: message), as: UTF8.self), env.url + "/mcp",
        ])
        #expect(status == 200, "\(text)")
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
        return object?["result"] as? [String: Any] ?? [:]
    }

    static func connects(_ url: String) async throws -> Bool {
        try await Command.run(TestEnvironment.psqlBinary, [url, "-X", "-Atc", "select 1"], check: false).succeeded
    }

    /// The addresses TCP sockets listen on at `port` (from /proc/net/tcp and tcp6), as text.
    static func listeningAddresses(port: Int) -> [String] {
        var addresses: [String] = []
        for (file, width) in [("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)] {
            for line in (Files.read(file) ?? "").split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 3, fields[3] == "0A" else { continue }
                let local = fields[1].split(separator: ":")
                guard local.count == 2, Int(local[1], radix: 16) == port, local[0].count == width else { continue }
                addresses.append(Self.address(hex: String(local[0])))
            }
        }
        return addresses
    }

    /// /proc/net's hex form (each 32-bit word in host order, little-endian here) as an address.
    static func address(hex: String) -> String {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 8)
            let word = UInt32(hex[index..<next], radix: 16) ?? 0
            bytes += [UInt8(word & 0xFF), UInt8(word >> 8 & 0xFF), UInt8(word >> 16 & 0xFF), UInt8(word >> 24)]
            index = next
        }
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        if bytes == [UInt8](repeating: 0, count: 15) + [1] { return "::1" }
        if bytes.allSatisfy({ $0 == 0 }) { return "::" }
        return stride(from: 0, to: 16, by: 2).map { String(format: "%x", UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1])) }.joined(separator: ":")
    }
}
