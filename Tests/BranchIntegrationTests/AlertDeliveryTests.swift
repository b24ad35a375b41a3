import BranchSystem
import BranchTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The local receivers of Tests/AlertReceivers/receivers.py: an HTTP server for webhook and Slack
/// payloads, and aiosmtpd requiring STARTTLS and AUTH with a throw-away certificate.
struct AlertReceivers {
    let directory: String
    let pid: Int32
    let httpPort: Int
    let smtpPort: Int
    let certificate: String
    static let user = "alice@example.com"
    static let password = "smtp-pa55-\(UUID().uuidString.prefix(8))"

    static func with<T>(_ body: (AlertReceivers) async throws -> T) async throws -> T {
        guard let python = PythonScript.interpreter else { throw TestFailure("no Python: run scripts/test.sh or set BRANCH_TEST_PYTHON") }
        let directory = "/var/tmp/branch-tests/alerts-\(UUID().uuidString.prefix(10))"
        try Files.ensureDirectory(directory, mode: 0o700)
        var environment = Command.baseEnvironment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        let pid = try Command.launch(
            python, ["\(PythonScript.repository)/Tests/AlertReceivers/receivers.py", directory, user, password], environment: environment,
            logFile: "\(directory)/receivers.log")
        defer {
            kill(pid, SIGKILL)
            _ = waitpid(pid, nil, 0)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let deadline = ContinuousClock.now + .seconds(30)
        var ready: [String: Any]?
        while ContinuousClock.now < deadline {
            if let data = FileManager.default.contents(atPath: "\(directory)/ready.json") {
                ready = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        guard let ready, let http = ready["http"] as? Int, let smtp = ready["smtp"] as? Int, let certificate = ready["certificate"] as? String else {
            throw TestFailure("the alert receivers did not start: \(Files.read("\(directory)/receivers.log") ?? "")")
        }
        return try await body(AlertReceivers(directory: directory, pid: pid, httpPort: http, smtpPort: smtp, certificate: certificate))
    }

    /// Everything received so far, oldest first.
    func received() -> [[String: Any]] {
        (Files.read("\(directory)/received.jsonl") ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Waits until `count` entries match `predicate`; returns them.
    @discardableResult
    func waitFor(_ what: String, count: Int = 1, within limit: Duration = .seconds(30), _ predicate: ([String: Any]) -> Bool) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let matching = received().filter(predicate)
            if matching.count >= count { return matching }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestFailure("\(what) did not arrive within \(limit); received: \(received())")
    }

    static func json(_ entry: [String: Any]) -> [String: Any] { entry["json"] as? [String: Any] ?? [:] }
    static func path(_ entry: [String: Any]) -> String { entry["path"] as? String ?? "" }
    static func message(_ entry: [String: Any]) -> String { entry["message"] as? String ?? "" }

    /// The decoded text of a received e-mail (the body is base64).
    static func mailText(_ entry: [String: Any]) -> String {
        let parts = message(entry).components(separatedBy: "\r\n\r\n")
        guard parts.count >= 2, let body = Data(base64Encoded: parts[1].replacingOccurrences(of: "\r\n", with: "")) else { return message(entry) }
        return parts[0] + "\n\n" + String(decoding: body, as: UTF8.self)
    }
}

@Suite("Alerts: webhook, Slack and e-mail channels, crash loops, pool space, size jumps, dead channels", .serialized)
struct AlertDeliveryTests {
    static let webhookToken = "hook-\(UUID().uuidString.prefix(12))"
    static let slackToken = "T000/B000/\(UUID().uuidString.prefix(12))"

    /// Sets the instance's three channels on the receivers.
    static func setInstanceChannels(_ env: TestEnvironment, _ receivers: AlertReceivers) async throws {
        let base = "http://127.0.0.1:\(receivers.httpPort)"
        let webhook = try await env.cli("alerts", "set", "--webhook", "\(base)/hooks/\(webhookToken)", "--json")
        #expect(webhook.succeeded, "\(webhook.stderr)")
        #expect(!webhook.stdout.contains(webhookToken))
        #expect(try await env.cli("alerts", "set", "--slack", "\(base)/services/\(slackToken)").succeeded)
        let user = AlertReceivers.user.replacingOccurrences(of: "@", with: "%40")
        let email = try await env.cli(
            ["alerts", "set", "--email", "ops@example.com", "--smtp", "smtp://\(user)@127.0.0.1:\(receivers.smtpPort)", "--smtp-password-stdin",
             "--smtp-ca-file", receivers.certificate],
            input: AlertReceivers.password)
        #expect(email.succeeded, "\(email.stderr)")
    }

    @Test("`branch alerts test` reaches a webhook, Slack and e-mail (STARTTLS, AUTH); secrets are sealed and shown redacted; a dead channel delays no other")
    func channelsAndTest() async throws {
        try await AlertReceivers.with { receivers in
            try await TestEnvironment.with { env in
                try await Self.setInstanceChannels(env, receivers)

                let shown = try await env.cli("alerts", "show", "--json")
                #expect(shown.succeeded)
                #expect(shown.stdout.contains("http://127.0.0.1:\(receivers.httpPort)/…"))
                #expect(shown.stdout.contains("ops@example.com via smtp://"))
                for secret in [Self.webhookToken, Self.slackToken, AlertReceivers.password] {
                    #expect(!shown.stdout.contains(secret))
                }

                let started = ContinuousClock.now
                let test = try await env.cli("alerts", "test")
                #expect(test.succeeded, "\(test.stdout)\(test.stderr)")
                #expect(ContinuousClock.now - started < .seconds(20))
                let webhook = try await receivers.waitFor("the webhook test") { AlertReceivers.path($0) == "/hooks/\(Self.webhookToken)" }
                let document = AlertReceivers.json(webhook[0])
                #expect(document["event"] as? String == "test")
                #expect(document["severity"] as? String == "info")
                #expect(document["title"] as? String == "Test alert from Branch")
                #expect(webhook[0]["content_type"] as? String == "application/json")
                let slack = try await receivers.waitFor("the Slack test") { AlertReceivers.path($0) == "/services/\(Self.slackToken)" }
                #expect((AlertReceivers.json(slack[0])["text"] as? String)?.contains("Test alert from Branch") == true)
                #expect((AlertReceivers.json(slack[0])["blocks"] as? [Any])?.count == 2)
                let mail = try await receivers.waitFor("the test e-mail") { $0["channel"] as? String == "smtp" }
                #expect(mail[0]["tls"] as? Bool == true)
                #expect(mail[0]["user"] as? String == AlertReceivers.user)
                #expect(mail[0]["to"] as? [String] == ["ops@example.com"])
                #expect(mail[0]["from"] as? String == AlertReceivers.user)
                #expect(AlertReceivers.mailText(mail[0]).contains("Subject: [Branch 127.0.0.1] Info: Test alert from Branch"))
                #expect(AlertReceivers.mailText(mail[0]).contains("This is a test of the alert channels of the instance"))

                // A project's channels: a webhook on a closed port, and Slack. The dead one fails at
                // once, named and redacted; the other is delivered in the same run.
                _ = try await env.linkedProject()
                let closed = try TestEnvironment.freePort()
                #expect(try await env.cli("alerts", "set", "--project", "app", "--webhook", "http://127.0.0.1:\(closed)/dead/\(Self.webhookToken)").succeeded)
                #expect(try await env.cli("alerts", "set", "--project", "app", "--slack", "http://127.0.0.1:\(receivers.httpPort)/project/\(Self.slackToken)").succeeded)
                let mixedStart = ContinuousClock.now
                let mixed = try await env.cli("alerts", "test", "--project", "app", "--json")
                #expect(ContinuousClock.now - mixedStart < .seconds(5))
                #expect(mixed.status == 1)
                #expect(!mixed.stdout.contains(Self.webhookToken))
                let report = try JSONSerialization.jsonObject(with: Data(mixed.stdout.utf8)) as? [String: Any]
                let results = report?["results"] as? [[String: Any]] ?? []
                #expect(results.count == 2)
                for result in results {
                    let kind = (result["channel"] as? [String: Any])?["kind"] as? String
                    #expect(result["delivered"] as? Bool == (kind == "slack"), "\(result)")
                }
                try await receivers.waitFor("the project's Slack test") { AlertReceivers.path($0) == "/project/\(Self.slackToken)" }

                // Only a project's owner or the instance admin set its channels; unknown kinds are named.
                #expect(try await env.errorCode("alerts", "remove", "--project", "app", "--email") == "alert_channel_not_found")
                #expect(try await env.errorCode("alerts", "set", "--email", "ops@example.com", "--smtp", "smtp://u:pw@mail.example.com") == "invalid_request")
                #expect(try await env.errorCode("alerts", "set", "--email", "ops@example.com", "--smtp", "smtp+plain://u@mail.example.com") == "invalid_request")

                // Sealed at rest, never in the service's log.
                let log = Files.read(env.serviceLog) ?? ""
                for secret in [Self.webhookToken, Self.slackToken, AlertReceivers.password] {
                    #expect(!SecretsAtRestTests.catalogFilesContain(env, secret), "\(secret) is in the catalog in clear")
                    #expect(!log.contains(secret), "\(secret) is in the service log")
                }
                let sealed = try await SecretsAtRestTests.column(env, "SELECT count(*) FROM alert_channel WHERE url LIKE 'enc:v1:%' OR smtp_password LIKE 'enc:v1:%'")
                #expect(sealed == "5")

                #expect(try await env.cli("alerts", "remove", "--project", "app").succeeded)
                #expect(try await env.errorCode("alerts", "test", "--project", "app") == "alert_channel_not_found")
            }
        }
    }

    /// The host pid of the running server of `project`'s main branch: its container's, read from
    /// podman (a pid in postmaster.pid would be the container's own namespace's), else the plain
    /// process's.
    static func serverPID(_ env: TestEnvironment, project: String) async -> Int32? {
        let container = "\(env.containerPrefix)-\(project)-main"
        if await env.containers().contains(container) {
            let inspected = try? await Command.run("podman", ["inspect", "--format", "{{.State.Running}} {{.State.Pid}}", container], check: false)
            let fields = (inspected?.stdout ?? "").split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            guard fields.count == 2, fields[0] == "true", let pid = Int32(fields[1]), pid > 0 else { return nil }
            return pid
        }
        guard let pid = await env.postmasterPID(project: project, branch: "main"), kill(pid, 0) == 0 else { return nil }
        return pid
    }

    @Test("a branch server killed three times is one crash-loop alert, delivered while a dead channel retries; pool space past a threshold and a certificate near expiry alert once")
    func crashLoopAndPoolSpace() async throws {
        try await AlertReceivers.with { receivers in
            try await TestEnvironment.with(serveArguments: ["--alert-check-interval", "1s"]) { env in
                try await Self.setInstanceChannels(env, receivers)
                _ = try await env.linkedProject()
                let project = "app"
                let closed = try TestEnvironment.freePort()
                #expect(try await env.cli("alerts", "set", "--project", project, "--webhook", "http://127.0.0.1:\(closed)/dead").succeeded)

                // Killed (kill -9) again and again, each time after the supervisor brought it back,
                // until the alert comes: three failures within ten minutes make a crash loop.
                let crash = { (entry: [String: Any]) in AlertReceivers.json(entry)["event"] as? String == "crash_loop" }
                var killed: Set<Int32> = []
                var lastKill = ContinuousClock.now
                for _ in 0..<6 where !receivers.received().contains(where: crash) {
                    let deadline = ContinuousClock.now + .seconds(60)
                    var pid: Int32?
                    while ContinuousClock.now < deadline {
                        if let current = await Self.serverPID(env, project: project), !killed.contains(current) {
                            pid = current
                            break
                        }
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    let target = try #require(pid, "the supervisor did not restart the server")
                    killed.insert(target)
                    kill(target, SIGKILL)
                    lastKill = ContinuousClock.now
                    try await Task.sleep(for: .seconds(2))
                }
                #expect(killed.count >= 3)
                let alerts = try await receivers.waitFor("the crash-loop webhook") { crash($0) }
                #expect(ContinuousClock.now - lastKill < .seconds(30))
                let document = AlertReceivers.json(alerts[0])
                #expect(document["project"] as? String == project)
                #expect(document["branch"] as? String == "main")
                #expect(document["severity"] as? String == "critical")
                try await receivers.waitFor("the crash-loop Slack message") { ($0["json"] as? [String: Any])?["text"].map { "\($0)".contains("crash-looping") } ?? false }
                try await receivers.waitFor("the crash-loop e-mail") { AlertReceivers.mailText($0).contains("is crash-looping") }
                // One alert for the loop, however many channels.
                try await Task.sleep(for: .seconds(3))
                #expect(receivers.received().filter(crash).count == 1)
                let log = Files.read(env.serviceLog) ?? ""
                #expect(log.contains("alert delivery failed; retrying"))
                #expect(!log.contains("/dead"))

                // Restarted with a pool-space threshold this pool is already past, and a certificate
                // of the owner's that expires in ten days: one alert each.
                let key = "\(receivers.directory)/expiring-key.pem", certificate = "\(receivers.directory)/expiring-cert.pem"
                try await Command.run("openssl", [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", certificate,
                    "-days", "10", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                ])
                _ = await env.stopService()
                try await env.startService(arguments: ["--alert-pool-thresholds", "1", "--tls-cert", certificate, "--tls-key", key])
                let event = { (entry: [String: Any]) in AlertReceivers.json(entry)["event"] as? String }
                let pool = try await receivers.waitFor("the pool-space webhook") { event($0) == "pool_space" }
                #expect((AlertReceivers.json(pool[0])["title"] as? String)?.contains("past 1%") == true)
                let expiry = try await receivers.waitFor("the certificate webhook") { event($0) == "certificate_expiry" }
                #expect((AlertReceivers.json(expiry[0])["title"] as? String)?.contains("expires in 9 days") == true)
                #expect((AlertReceivers.json(expiry[0])["detail"] as? String)?.contains("Renew \(certificate)") == true)
                try await Task.sleep(for: .seconds(3))
                #expect(receivers.received().filter { event($0) == "pool_space" }.count == 1)
                #expect(receivers.received().filter { event($0) == "certificate_expiry" }.count == 1)
            }
        }
    }

    @Test("a database that grew past the project's share since its last backup alerts once")
    func sizeJump() async throws {
        try await AlertReceivers.with { receivers in
            try await TestEnvironment.with(serveArguments: ["--alert-check-interval", "1s", "--metrics-interval", "1s"], backups: true) { env in
                let url = try await env.linkedProject()
                let project = "app"
                #expect(try await env.cli("alerts", "set", "--project", project, "--webhook", "http://127.0.0.1:\(receivers.httpPort)/size", "--size-jump", "20%").succeeded)
                let shown = try await env.cli("alerts", "show", "--project", project)
                #expect(shown.stdout.contains("more than 20%"))
                _ = try await env.psql(url, "CREATE TABLE t (id int, filler text); INSERT INTO t SELECT g, repeat('x', 200) FROM generate_series(1, 1000) g")
                let backup = try await env.cli("backup", "create")
                #expect(backup.succeeded, "\(backup.stderr)")
                // Let the watch record the size at the backup, then grow the database by far more than 20%.
                try await Task.sleep(for: .seconds(3))
                _ = try await env.psql(url, "INSERT INTO t SELECT g, repeat('y', 500) FROM generate_series(1, 60000) g")
                let alerts = try await receivers.waitFor("the size-jump webhook", within: .seconds(60)) { AlertReceivers.json($0)["event"] as? String == "size_jump" }
                let document = AlertReceivers.json(alerts[0])
                #expect(document["project"] as? String == project)
                #expect((document["detail"] as? String)?.contains("threshold: 20%") == true)
                try await Task.sleep(for: .seconds(3))
                #expect(receivers.received().filter { AlertReceivers.json($0)["event"] as? String == "size_jump" }.count == 1)
            }
        }
    }
}
