import BranchSystem
import BranchTesting
import Foundation
import Testing

/// HTTPS on the service's port and TLS on the pooled endpoint, end to end: the certificate the
/// first start makes, HSTS, no plain HTTP or plain Postgres where TLS is required, the owner's
/// certificate, the CLI's pinning and BRANCH_CA_FILE, and proxies trusted only when configured.
@Suite("TLS: HTTPS, the pooler's TLS, pinning, trusted proxies", .serialized)
struct TLSTests {
    /// `openssl x509 -fingerprint -sha256` of a PEM file, `AB:01:…`.
    static func fingerprint(_ path: String) async throws -> String {
        let result = try await Command.run("openssl", ["x509", "-in", path, "-noout", "-fingerprint", "-sha256"])
        return String(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "=").last ?? "")
    }

    /// curl with `arguments`: the status (0: no HTTP answer at all), the headers and the body.
    static func curl(_ arguments: [String]) async throws -> (status: Int, headers: String, body: String) {
        let result = try await Command.run("curl", ["-sS", "-i", "--max-time", "10", "-w", "\n%{http_code}"] + arguments, check: false)
        var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.popLast() ?? "") ?? 0
        let text = lines.joined(separator: "\n")
        let parts = text.components(separatedBy: "\r\n\r\n")
        return (status, parts.first ?? "", parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    /// Runs psql on `url`; returns whether it succeeded, and its output or error.
    static func psql(_ url: String, _ sql: String) async throws -> (ok: Bool, output: String) {
        let result = try await Command.run(TestEnvironment.psqlBinary, [url, "-X", "-A", "-t", "-q", "-c", sql], check: false)
        return (result.succeeded, (result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test("the first start makes a certificate whose fingerprint it prints; HTTPS with HSTS; plain HTTP and plain Postgres are refused; MCP calls itself over TLS")
    func generatedCertificate() async throws {
        try await TestEnvironment.with(tls: true) { env in
            let certificate = env.certificateFile
            let key = "\(env.root)/tls/key.pem"
            #expect(try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int == 0o600)
            #expect(try FileManager.default.attributesOfItem(atPath: certificate)[.posixPermissions] as? Int == 0o644)
            let fingerprint = try await Self.fingerprint(certificate)
            #expect(fingerprint.count == 95)
            let log = Files.read(env.serviceLog) ?? ""
            #expect(log.contains("is serving https://127.0.0.1:\(env.apiPort)"), "\(log)")
            #expect(log.contains("tls       SHA-256 \(fingerprint)"), "\(log)")
            #expect(!log.contains("BEGIN PRIVATE KEY") && !log.contains(Files.read(key) ?? "-"))

            // HTTPS, verified against the certificate itself, and HSTS on answers and errors.
            let health = try await Self.curl(["--cacert", certificate, "\(env.url)/api/v1/health"])
            #expect(health.status == 200)
            #expect(health.headers.lowercased().contains("strict-transport-security: max-age=31536000"), "\(health.headers)")
            #expect(Self.json(health.body)["certificateFingerprint"] as? String == fingerprint)
            let refused = try await Self.curl(["--cacert", certificate, "\(env.url)/api/v1/projects"])
            #expect(refused.status == 401)
            #expect(refused.headers.lowercased().contains("strict-transport-security: max-age=31536000"))
            // The connection guard's own answers, which no middleware sees, carry HSTS too: a
            // client too slow with its header gets 408 after 10 s.
            let slow = try await Command.run("python3", ["-c", """
                import socket, ssl
                context = ssl.create_default_context(cafile="\(certificate)")
                with context.wrap_socket(socket.create_connection(("127.0.0.1", \(env.apiPort))), server_hostname="127.0.0.1") as tls:
                    tls.settimeout(30)
                    tls.sendall(b"GET /api/v1/health HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\n")
                    answer = b""
                    while b"\\r\\n\\r\\n" not in answer:
                        piece = tls.recv(4096)
                        if not piece: break
                        answer += piece
                    print(answer.decode(errors="replace"))
                """], check: false)
            #expect(slow.stdout.hasPrefix("HTTP/1.1 408"), "\(slow.stdout) \(slow.stderr)")
            #expect(slow.stdout.lowercased().contains("strict-transport-security: max-age=31536000"), "\(slow.stdout)")
            // An unverified certificate is refused by a client that checks.
            #expect(try await Self.curl(["\(env.url)/api/v1/health"]).status == 0)

            // The downgrade: plain HTTP to the HTTPS port gets no HTTP answer, nothing is served.
            let plain = try await Self.curl(["http://127.0.0.1:\(env.apiPort)/api/v1/health"])
            #expect(plain.status == 0, "plain HTTP answered \(plain.status): \(plain.body)")

            // The CLI (BRANCH_CA_FILE is the certificate here) and the pooled URL, which asks for TLS.
            let url = try await env.linkedProject()
            #expect(!url.isEmpty)
            let pooled = try await env.cli("url").output
            #expect(pooled.hasSuffix("?sslmode=require"), "\(pooled)")
            let encrypted = try await Self.psql(pooled, "SELECT 1")
            #expect(encrypted.ok && encrypted.output == "1", "\(encrypted.output)")
            let base = String(pooled.prefix { $0 != "?" })
            // The CA check libpq can make, as the docs say: verify-full against the certificate.
            let verified = try await Self.psql(base + "?sslmode=verify-full&sslrootcert=\(certificate)", "SELECT 2")
            #expect(verified.ok && verified.output == "2", "\(verified.output)")
            // Plain Postgres to the pooler: refused.
            let downgraded = try await Self.psql(base + "?sslmode=disable", "SELECT 3")
            #expect(!downgraded.ok && downgraded.output.contains("SSL required"), "\(downgraded.output)")
            // The pooler requires TLS from every TCP client.
            let admin = Files.read("\(env.pool)/run/pgbouncer/pgbouncer.ini") ?? ""
            #expect(admin.contains("client_tls_sslmode = require"))

            // /mcp calls the service's own HTTPS port (trusting its own certificate).
            let mcp = try await Self.curl([
                "--cacert", certificate, "-X", "POST", "\(env.url)/mcp", "-H", "Authorization: Bearer \(env.token)",
                "-H", "Content-Type: application/json", "-H", "Accept: application/json, text/event-stream",
                "--data-binary", #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_projects","arguments":{}}}"#,
            ])
            #expect(mcp.status == 200 && mcp.body.contains("\\\"name\\\":\\\"app\\\"") && !mcp.body.contains("\"isError\":true"), "\(mcp.body)")
        }
    }

    @Test("branch login pins the certificate only when told to; a changed certificate is refused; BRANCH_CA_FILE verifies instead; the owner's certificate is served; --tls off needs loopback")
    func pinningAndOwnerCertificate() async throws {
        try await TestEnvironment.with(tls: true) { env in
            let generated = try await Self.fingerprint(env.certificateFile)
            // The CLI's own config only: no URL, key or CA from the environment.
            let fromConfig = ["BRANCH_URL": "", "BRANCH_TOKEN": "", "BRANCH_CA_FILE": ""]

            let untrusted = try await env.cli(["login", env.url, "--token", env.token], environment: fromConfig)
            #expect(!untrusted.succeeded)
            #expect(untrusted.stderr.contains(generated) && untrusted.stderr.contains("--fingerprint"), "\(untrusted.stderr)")
            #expect(!Files.exists("\(env.home)/.config/branch/config.json"))
            let wrong = try await env.cli(["login", env.url, "--token", env.token, "--fingerprint", String(repeating: "AB:", count: 31) + "AB", "--json"], environment: fromConfig)
            #expect(!wrong.succeeded && wrong.stdout.contains("certificate_mismatch"), "\(wrong.stdout)")

            let pinned = try await env.cli(
                ["login", env.url, "--token", env.token, "--fingerprint", generated.replacingOccurrences(of: ":", with: "").lowercased()],
                environment: fromConfig)
            #expect(pinned.succeeded, "\(pinned.stderr)")
            #expect(pinned.stdout.contains("Pinned its certificate, SHA-256 \(generated)"))
            let config = Self.json(Files.read("\(env.home)/.config/branch/config.json") ?? "")
            #expect(config["fingerprint"] as? String == generated)
            #expect(try await env.cli(["status"], environment: fromConfig).succeeded)
            // `branch mcp` (stdio) calls the service with the same pin.
            let messages = [
                #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}"#,
                #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_projects","arguments":{}}}"#,
            ]
            let mcp = try await Command.run(
                TestEnvironment.binary, ["mcp"], environment: fromConfig.merging(["HOME": env.home]) { $1 }, input: messages.joined(separator: "\n") + "\n",
                check: false)
            #expect(mcp.stdout.contains(#""id":2"#) && mcp.stdout.contains("projects") && !mcp.stdout.contains("certificate"), "\(mcp.stdout) \(mcp.stderr)")

            // The owner's certificate replaces the generated one: a different fingerprint.
            try await env.stopService()
            let ownerCertificate = "\(env.root)/owner-cert.pem"
            let ownerKey = "\(env.root)/owner-key.pem"
            _ = try await Command.run("openssl", [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ownerKey, "-out", ownerCertificate, "-days", "30",
                "-subj", "/CN=db.example", "-addext", "subjectAltName=IP:127.0.0.1,DNS:db.example",
            ])
            let owner = try await Self.fingerprint(ownerCertificate)
            try await env.startService(arguments: ["--tls-cert", ownerCertificate, "--tls-key", ownerKey])
            #expect((Files.read(env.serviceLog) ?? "").contains("tls       SHA-256 \(owner)"))
            let health = try await Self.curl(["--cacert", ownerCertificate, "\(env.url)/api/v1/health"])
            #expect(Self.json(health.body)["certificateFingerprint"] as? String == owner)

            // The pinned CLI refuses it, says what it saw and how to accept it on purpose.
            let changed = try await env.cli(["status", "--json"], environment: fromConfig)
            #expect(!changed.succeeded)
            let error = Self.json(changed.stdout)["error"] as? [String: Any]
            #expect(error?["code"] as? String == "certificate_changed", "\(changed.stdout)")
            #expect((error?["message"] as? String)?.contains(owner) == true)
            #expect((error?["hint"] as? String)?.contains("--fingerprint \(owner)") == true)
            // BRANCH_CA_FILE verifies against the owner's CA (host name included) instead.
            var withCA = fromConfig
            withCA["BRANCH_CA_FILE"] = ownerCertificate
            withCA["BRANCH_URL"] = env.url
            withCA["BRANCH_TOKEN"] = env.token
            let verified = try await env.cli(["status"], environment: withCA)
            #expect(verified.succeeded, "\(verified.stderr)")
            withCA["BRANCH_CA_FILE"] = env.certificateFile
            let otherCA = try await env.cli(["status", "--json"], environment: withCA)
            #expect(!otherCA.succeeded && otherCA.stdout.contains("certificate_untrusted"), "\(otherCA.stdout)")

            // The pooler presents the owner's certificate too.
            let withOwnerCA = ["BRANCH_CA_FILE": ownerCertificate]
            #expect(try await env.cli(["project", "create", "app"], environment: withOwnerCA).succeeded)
            let pooled = try await env.cli(["url", "--project", "app"], environment: withOwnerCA).output
            let base = String(pooled.prefix { $0 != "?" })
            let verifiedPostgres = try await Self.psql(base + "?sslmode=verify-full&sslrootcert=\(ownerCertificate)", "SELECT 1")
            #expect(verifiedPostgres.ok, "\(verifiedPostgres.output)")

            // Plain HTTP on an address other machines reach is refused before anything starts.
            try await env.stopService()
            let (status, log) = try await env.startServiceExpectingFailure(arguments: ["--tls", "off", "--listen", "0.0.0.0:\(env.apiPort)"])
            #expect(status != 0)
            #expect(log.contains("--tls off serves plain HTTP, which is refused on 0.0.0.0"), "\(log)")
        }
    }

    @Test("X-Forwarded-For is believed only from --trusted-proxy peers")
    func trustedProxies() async throws {
        try await TestEnvironment.with { env in
            /// Tries a change to `project` (deleting its main branch: refused, audited all the same) as if
            /// forwarded for 198.51.100.7; returns the address the audit log saw.
            func auditedAddress(_ project: String) async throws -> String? {
                #expect(try await env.cli("project", "create", project).succeeded)
                let attempt = try await Self.curl([
                    "-X", "DELETE", "\(env.url)/api/v1/projects/\(project)/branches/main", "-H", "Authorization: Bearer \(env.token)",
                    "-H", "X-Forwarded-For: 198.51.100.7", "-H", "X-Forwarded-Proto: https",
                ])
                #expect(attempt.status == 409, "\(attempt.body)")
                let lines = try await env.cli("audit", "--jsonl").stdout.split(separator: "\n")
                let entry = lines.map { Self.json(String($0)) }.first { $0["project"] as? String == project && $0["method"] as? String == "DELETE" }
                return entry?["address"] as? String
            }
            /// The data API base URL the service names for `project`, asked with a forwarded scheme.
            func dataAPIURL(_ project: String) async throws -> String? {
                let keys = try await Self.curl([
                    "\(env.url)/api/v1/projects/\(project)/keys", "-H", "Authorization: Bearer \(env.token)", "-H", "X-Forwarded-Proto: https",
                    "-H", "Host: db.example",
                ])
                return Self.json(keys.body)["url"] as? String
            }
            // Not configured: the headers are the client's own claims, ignored.
            #expect(try await auditedAddress("direct") == "127.0.0.1")
            #expect(try await dataAPIURL("direct") == "http://db.example/p/direct")

            try await env.stopService()
            try await env.startService(arguments: ["--trusted-proxy", "127.0.0.1/32,10.0.0.0/8"])
            #expect(try await auditedAddress("proxied") == "198.51.100.7")
            // The forwarded scheme names the service's own URLs (the data API's base URL).
            #expect(try await dataAPIURL("proxied") == "https://db.example/p/proxied")

            try await env.stopService()
            let (status, log) = try await env.startServiceExpectingFailure(arguments: ["--trusted-proxy", "10.0.0.1/8"])
            #expect(status != 0 && log.contains("--trusted-proxy"), "\(log)")
        }
    }
}
