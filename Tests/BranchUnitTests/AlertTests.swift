import BranchCatalog
@testable import BranchEngine
import BranchMail
import Foundation
import Testing

@Suite("Alerts: payloads, SMTP, thresholds, crash loops, backoff")
struct AlertTests {
    let event = AlertEvent(
        .backupFailed, severity: .critical, project: "shop", branch: "main", title: "Backup of shop failed",
        detail: "The target answered <503> & gave up.", at: Date(timeIntervalSince1970: 1_800_000_000))

    private func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("the generic webhook carries every field of the event")
    func webhookPayload() throws {
        let document = try object(AlertPayloads.webhook(event, service: "db.example.com"))
        #expect(document["event"] as? String == "backup_failed")
        #expect(document["severity"] as? String == "critical")
        #expect(document["project"] as? String == "shop")
        #expect(document["branch"] as? String == "main")
        #expect(document["title"] as? String == "Backup of shop failed")
        #expect(document["service"] as? String == "db.example.com")
        #expect(document["at"] as? String == "2027-01-15T08:00:00Z")
        let instance = try object(AlertPayloads.webhook(AlertEvent(.poolSpace, severity: .warning, title: "t", detail: "d"), service: "s"))
        #expect(instance["project"] == nil)
    }

    @Test("Slack gets text and blocks, with its control characters escaped")
    func slackPayload() throws {
        let document = try object(AlertPayloads.slack(event, service: "db.example.com"))
        #expect(document["text"] as? String == ":red_circle: Backup of shop failed")
        let blocks = try #require(document["blocks"] as? [[String: Any]])
        #expect(blocks.count == 2)
        let section = try #require(blocks[0]["text"] as? [String: Any])
        #expect(section["type"] as? String == "mrkdwn")
        #expect(section["text"] as? String == ":red_circle: *Backup of shop failed*\nThe target answered &lt;503&gt; &amp; gave up.")
        let context = try #require((blocks[1]["elements"] as? [[String: Any]])?.first?["text"] as? String)
        #expect(context.contains("backup_failed · shop/main · db.example.com"))
    }

    @Test("the e-mail has a subject naming the service and severity, and a plain body")
    func emailPayload() {
        let message = AlertPayloads.email(event, service: "db.example.com", from: "branch@example.com", to: ["ops@example.com"])
        #expect(message.subject == "[Branch db.example.com] Critical: Backup of shop failed")
        #expect(message.body.contains("Scope:    shop/main"))
        #expect(message.to == ["ops@example.com"])
    }

    @Test("a message renders with CRLF, base64 body, encoded subject and the final dot")
    func mailRendering() throws {
        let message = MailMessage(from: "a@example.com", to: ["b@example.com", "c@example.com"], subject: "Été ✓", body: ".leading dot\nline", date: Date(timeIntervalSince1970: 0))
        let text = message.rendered(messageID: "id@example.com")
        #expect(text.hasSuffix("\r\n.\r\n"))
        #expect(text.contains("To: b@example.com, c@example.com\r\n"))
        #expect(text.contains("Subject: =?UTF-8?B?\(Data("Été ✓".utf8).base64EncodedString())?=\r\n"))
        #expect(text.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"))
        let body = try #require(text.components(separatedBy: "\r\n\r\n").last?.replacingOccurrences(of: "\r\n.\r\n", with: ""))
        let decoded = try #require(Data(base64Encoded: body.replacingOccurrences(of: "\r\n", with: "")))
        #expect(String(decoding: decoded, as: UTF8.self) == ".leading dot\nline")
        #expect(MailMessage.encodedHeader("plain\r\nInjected: yes") == "plain  Injected: yes")
        #expect(MailMessage.isAddress("ops@example.com"))
        #expect(!MailMessage.isAddress("ops@example.com>\r\nRCPT TO:<x@y"))
        #expect(!MailMessage.isAddress("no-at-sign"))
    }

    @Test("replies are assembled from continuation lines; EHLO's extensions are read")
    func replyParsing() throws {
        var assembler = SMTPReplyAssembler()
        #expect(try assembler.feed("250-mail.example.com Hello") == nil)
        #expect(try assembler.feed("250-STARTTLS") == nil)
        #expect(try assembler.feed("250-AUTH PLAIN login") == nil)
        let reply = try #require(try assembler.feed("250 SIZE 1000"))
        #expect(reply.code == 250)
        #expect(reply.lines.count == 4)
        #expect(reply.extensions["STARTTLS"] == [])
        #expect(reply.extensions["AUTH"] == ["PLAIN", "LOGIN"])
        #expect(reply.extensions["SIZE"] == ["1000"])
        #expect(try assembler.feed("220") == SMTPReply(code: 220, lines: [""]))
        #expect(throws: SMTPError.self) { try assembler.feed("HTTP/1.1 400 Bad Request") }
        var mixed = SMTPReplyAssembler()
        _ = try mixed.feed("250-one")
        #expect(throws: SMTPError.self) { try mixed.feed("550 two") }
    }

    @Test("SMTP URLs: STARTTLS by default, TLS with smtps, no password, plain text only on loopback")
    func endpoints() throws {
        let starttls = try SMTPEndpoint(parsing: "smtp://alerts%40example.com@mail.example.com")
        #expect(starttls.security == .startTLS)
        #expect(starttls.port == 587)
        #expect(starttls.user == "alerts@example.com")
        #expect(try SMTPEndpoint(parsing: "smtps://u@mail.example.com").port == 465)
        #expect(try SMTPEndpoint(parsing: "smtp+plain://u@127.0.0.1:2525").security == .plainLoopback)
        #expect(throws: SMTPError.self) { try SMTPEndpoint(parsing: "smtp+plain://u@mail.example.com:25") }
        #expect(throws: SMTPError.self) { try SMTPEndpoint(parsing: "smtp://u:secret@mail.example.com") }
        #expect(throws: SMTPError.self) { try SMTPEndpoint(parsing: "http://mail.example.com") }
        #expect(try SMTPEndpoint(parsing: starttls.url) == starttls)
    }

    @Test("pool space alerts once per threshold crossing, with hysteresis")
    func poolSpace() {
        var tracker = PoolSpaceTracker(thresholds: [80, 90, 95], hysteresis: 3)
        #expect(tracker.observe(usedPercent: 50) == nil)
        #expect(tracker.observe(usedPercent: 81) == .crossed(80))
        #expect(tracker.observe(usedPercent: 79) == nil)
        #expect(tracker.observe(usedPercent: 80.5) == nil)
        #expect(tracker.observe(usedPercent: 96) == .crossed(95))
        #expect(tracker.observe(usedPercent: 93) == nil)
        #expect(tracker.observe(usedPercent: 91) == nil)
        #expect(tracker.level == 90)
        #expect(tracker.observe(usedPercent: 95.5) == .crossed(95))
        #expect(tracker.observe(usedPercent: 70) == .recovered(below: 95))
        #expect(tracker.level == nil)
        #expect(tracker.observe(usedPercent: 85) == .crossed(80))
    }

    @Test("N failures within the window make one crash-loop alert; quiet for a window re-arms it")
    func crashLoops() {
        var detector = CrashLoopDetector(count: 3, window: 600)
        let start = Date(timeIntervalSince1970: 0)
        #expect(detector.failed("p/main", at: start) == nil)
        #expect(detector.failed("p/main", at: start + 10) == nil)
        #expect(detector.failed("p/other", at: start + 15) == nil)
        #expect(detector.failed("p/main", at: start + 20) == 3)
        #expect(detector.failed("p/main", at: start + 30) == nil)
        #expect(detector.failed("p/main", at: start + 400) == nil)
        // Crashes spread wider than the window never make a loop.
        var spread = CrashLoopDetector(count: 3, window: 600)
        #expect(spread.failed("b", at: start) == nil)
        #expect(spread.failed("b", at: start + 500) == nil)
        #expect(spread.failed("b", at: start + 1_200) == nil)
        // After a window without failures, a new loop alerts again.
        #expect(detector.failed("p/main", at: start + 2_000) == nil)
        #expect(detector.failed("p/main", at: start + 2_001) == nil)
        #expect(detector.failed("p/main", at: start + 2_002) == 3)
    }

    @Test("size jumps compare against the size at the last backup")
    func sizeJumps() {
        #expect(SizeJump.exceeded(baseline: 100, current: 151, percent: 50))
        #expect(!SizeJump.exceeded(baseline: 100, current: 150, percent: 50))
        #expect(!SizeJump.exceeded(baseline: 100, current: 80, percent: 50))
        #expect(!SizeJump.exceeded(baseline: 0, current: 80, percent: 50))
    }

    @Test("retries back off 2 s, 8 s, 32 s … capped")
    func backoff() {
        #expect(AlertBackoff().delays == [.seconds(2), .seconds(8), .seconds(32), .seconds(128), .seconds(512)])
        #expect(AlertBackoff(base: .seconds(1), factor: 10, cap: .seconds(60), retries: 4).delays == [.seconds(1), .seconds(10), .seconds(60), .seconds(60)])
        #expect(AlertBackoff(retries: 0).delays.isEmpty)
    }

    @Test("success events are for channels that opt in; tests always go")
    func successEvents() {
        #expect(AlertEvent(.backupSucceeded, severity: .info, title: "", detail: "").isSuccess)
        #expect(!AlertEvent(.test, severity: .info, title: "", detail: "").isSuccess)
        #expect(!event.isSuccess)
    }

    @Test("channel requests: URLs must be http(s); e-mail needs addresses, a server, a password for its user, a sender")
    func channelRequests() throws {
        #expect(throws: EngineError.self) { try AlertChannelRequest(kind: .webhook, url: "ftp://x").record(project: nil) }
        let slack = try AlertChannelRequest(kind: .slack, url: "https://hooks.slack.com/services/T/B/SECRET").record(project: "shop")
        #expect(AlertChannelView(slack).target == "https://hooks.slack.com/…")
        #expect(throws: EngineError.self) {
            try AlertChannelRequest(kind: .email, emailTo: ["ops@example.com"], smtp: "smtp://u@mail.example.com").record(project: nil)
        }
        #expect(throws: EngineError.self) {
            try AlertChannelRequest(kind: .email, emailTo: ["ops@example.com"], smtp: "smtp://mail.example.com").record(project: nil)
        }
        let email = try AlertChannelRequest(
            kind: .email, emailTo: ["ops@example.com", "dev@example.com"], smtp: "smtp://alerts%40example.com@mail.example.com:587",
            smtpPassword: "pw").record(project: nil)
        #expect(email.emailFrom == "alerts@example.com")
        #expect(AlertChannelView(email).target == "ops@example.com,dev@example.com via smtp://alerts%40example.com@mail.example.com:587")
    }

    @Test("alert channels' secrets are sealed in the catalog and open through it")
    func sealedChannels() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let catalog = try Catalog(path: directory + "/catalog.db")
        let url = "https://hooks.slack.com/services/T/B/SECRET"
        _ = try await catalog.write { tx in
            try tx.setAlertChannel(AlertChannelRecord(project: nil, kind: .slack, url: url, includeSuccess: false))
        }
        _ = try await catalog.write { tx in
            try tx.setAlertChannel(AlertChannelRecord(
                project: nil, kind: .email, emailTo: "a@example.com", emailFrom: "b@example.com", smtpURL: "smtp://u@h:587", smtpPassword: "hunter2",
                includeSuccess: true))
        }
        let stored = try FileManager.default.contentsOfDirectory(atPath: directory)
            .map { try String(contentsOfFile: directory + "/" + $0, encoding: .isoLatin1) }.joined()
        #expect(!stored.contains("SECRET"))
        #expect(!stored.contains("hunter2"))
        let channels = try await catalog.read { try $0.alertChannels(project: nil) }
        #expect(channels.map(\.kind) == [.email, .slack])
        #expect(channels.first { $0.kind == .slack }?.url == url)
        #expect(channels.first { $0.kind == .email }?.smtpPassword == "hunter2")
        // Setting a kind again replaces it.
        _ = try await catalog.write { tx in try tx.setAlertChannel(AlertChannelRecord(project: nil, kind: .slack, url: url + "2", includeSuccess: false)) }
        #expect(try await catalog.read { try $0.alertChannels(project: nil) }.count == 2)
    }
}
