import BranchSystem
import BranchTesting
import Foundation
import Testing

/// A project's auth mail end to end: the CLI sets its SMTP server (the local aiosmtpd of
/// AlertReceivers, STARTTLS and AUTH), supabase-py signs users up, in and back in through mailed
/// links and codes (Tests/DataAPIClients/supabase_mail.py), and the console edits the settings and
/// invites (Tests/ConsoleClients/auth_settings_http.py).
@Suite("Auth mail: settings, SMTP, supabase-py's mailed flows, the console", .serialized)
struct AuthMailTests {
    static let site = "http://127.0.0.1:3000"

    @Test("sign-up confirmation, magic links, codes, recovery and invitations reach a real SMTP server; settings are checked, sealed and edited in the console")
    func mailedFlows() async throws {
        try await AlertReceivers.with { receivers in
            try await TestEnvironment.with { env in
                _ = try await env.linkedProject("mail")
                #expect(try await env.errorCode("auth", "set", "--confirm-email", "on") == "mail_not_configured")
                #expect(try await env.errorCode("auth", "set", "--site-url", "not a url") == "invalid_request")
                #expect(try await env.errorCode("auth", "set", "--smtp", "smtp+plain://mail.example.com:25", "--sender", "a@example.com") == "invalid_request")
                #expect(try await env.errorCode("auth", "test-mail", "--to", "x@example.com") == "mail_not_configured")

                let user = AlertReceivers.user.replacingOccurrences(of: "@", with: "%40")
                let set = try await env.cli(
                    ["auth", "set", "--smtp", "smtp://\(user)@127.0.0.1:\(receivers.smtpPort)", "--smtp-password-stdin", "--smtp-ca-file",
                     receivers.certificate, "--sender", "no-reply@example.com", "--confirm-email", "on", "--site-url", Self.site,
                     "--redirect-url", "http://127.0.0.1:3000/**", "--json"],
                    input: AlertReceivers.password)
                #expect(set.succeeded, "\(set.stdout)\(set.stderr)")
                #expect(!set.stdout.contains(AlertReceivers.password))
                let shown = try JSONSerialization.jsonObject(with: Data(try await env.cli("auth", "--json").stdout.utf8)) as? [String: Any]
                #expect(shown?["confirmEmail"] as? Bool == true && shown?["smtpHasPassword"] as? Bool == true, "\(String(describing: shown))")
                let stored = try await SecretsAtRestTests.column(env, "SELECT smtp_password FROM auth_setting WHERE project = 'mail'")
                #expect(!stored.isEmpty && !stored.contains(AlertReceivers.password), "the SMTP password is stored sealed")

                let test = try await env.cli("auth", "test-mail", "--to", "owner@example.com")
                #expect(test.succeeded, "\(test.stdout)\(test.stderr)")
                let mail = try await receivers.waitFor("the test message") { ($0["to"] as? [String]) == ["owner@example.com"] }
                #expect(mail[0]["tls"] as? Bool == true && mail[0]["user"] as? String == AlertReceivers.user)
                #expect(mail[0]["from"] as? String == "no-reply@example.com")

                let keys = try JSONSerialization.jsonObject(with: Data(try await env.cli("keys", "--json").stdout.utf8)) as? [String: String] ?? [:]
                let run = try await PythonScript.run(
                    "Tests/DataAPIClients/supabase_mail.py",
                    environment: [
                        "SUPABASE_URL": keys["url"] ?? "", "SUPABASE_ANON_KEY": keys["anonKey"] ?? "", "SUPABASE_SERVICE_ROLE_KEY": keys["serviceRoleKey"] ?? "",
                        "MAILBOX": "\(receivers.directory)/received.jsonl", "SITE_URL": Self.site,
                    ],
                    timeLimit: .seconds(240))
                #expect(run.succeeded, "supabase_mail.py exited with \(run.status):\n\(run.stdout)\n\(run.stderr)")

                let console = try await PythonScript.run(
                    "Tests/ConsoleClients/auth_settings_http.py",
                    [env.url, env.token, "mail", "\(receivers.directory)/received.jsonl", AlertReceivers.password], timeLimit: .seconds(240))
                #expect(console.succeeded, "\(console.stdout)\n\(console.stderr)")
                let after = try JSONSerialization.jsonObject(with: Data(try await env.cli("auth", "--json").stdout.utf8)) as? [String: Any]
                #expect(after?["siteURL"] as? String == "https://shop.example.com", "what the console saved is what the CLI reads")

                // The project's own wording: an HTML invitation with GoTrue's variables, set from a file.
                let template = "\(env.root)/invite.html"
                try #"<p>Welcome {{ .Email }}: <a href="{{ .ConfirmationURL }}">accept</a> or type {{ .Token }}.</p>"#
                    .write(toFile: template, atomically: true, encoding: .utf8)
                let worded = try await env.cli(
                    "auth", "set", "--template", "invite=\(template)", "--subject", "invite=Join us at {{ .SiteURL }}", "--mails-per-hour", "500")
                #expect(worded.succeeded, "\(worded.stdout)\(worded.stderr)")
                #expect(worded.stdout.contains("invite (subject, body)"), "\(worded.stdout)")
                #expect(try await env.errorCode("auth", "set", "--template", "recovery=\(template)", "--subject", "nope=x") == "invalid_request")
                try "Hello {{ .Name }}".write(toFile: "\(env.root)/bad.txt", atomically: true, encoding: .utf8)
                #expect(try await env.errorCode("auth", "set", "--template", "recovery=\(env.root)/bad.txt") == "invalid_request")
                let invite = try await Command.run("curl", [
                    "-sk", "-X", "POST", "\(keys["url"] ?? "")/auth/v1/invite", "-H", "apikey: \(keys["serviceRoleKey"] ?? "")",
                    "-H", "Authorization: Bearer \(keys["serviceRoleKey"] ?? "")", "-H", "Content-Type: application/json",
                    "-d", #"{"email":"worded@example.com"}"#,
                ], check: false)
                #expect(invite.stdout.contains("worded@example.com"), "\(invite.stdout)")
                let invited = try await receivers.waitFor("the invitation in the project's wording") { ($0["to"] as? [String]) == ["worded@example.com"] }
                let raw = (invited.first?["message"] as? String ?? "").replacingOccurrences(of: "\r\n", with: "\n")
                #expect(raw.contains("Subject: Join us at https://shop.example.com") && raw.contains("Content-Type: text/html; charset=utf-8"), "\(raw)")
                let encoded = raw.components(separatedBy: "\n\n").dropFirst().joined().replacingOccurrences(of: "\n", with: "")
                let body = Data(base64Encoded: encoded).map { String(decoding: $0, as: UTF8.self) } ?? ""
                #expect(body.hasPrefix("<p>Welcome worded@example.com: <a href=\"\(keys["url"] ?? "-")/auth/v1/verify?token="), "\(body)")
                #expect(try await env.cli("auth", "set", "--reset-template", "invite").succeeded)
                let reset = try JSONSerialization.jsonObject(with: Data(try await env.cli("auth", "--json").stdout.utf8)) as? [String: Any]
                let kinds = (reset?["templates"] as? [[String: Any]])?.compactMap { $0["kind"] as? String }
                #expect(kinds == ["recovery"], "the invitation is back to the default; the console's recovery wording stays: \(String(describing: reset))")

                // Links start at the service's own address, whatever Host a client sends, or at the project's API URL.
                let forged = try await Self.generatedLink(keys, host: "evil.example")
                #expect(forged.hasPrefix((keys["url"] ?? "-") + "/auth/v1/verify?token="), "a forged Host does not aim the link: \(forged)")
                #expect(try await env.cli("auth", "set", "--api-url", "https://db.example.com/", "--mails-per-hour", "500").succeeded)
                let configured = try await Self.generatedLink(keys, host: nil)
                #expect(configured.hasPrefix("https://db.example.com/p/mail/auth/v1/verify?token="), "\(configured)")
                #expect(try await env.errorCode("auth", "set", "--api-url", "https://db.example.com/path") == "invalid_request")
                #expect(try await env.errorCode("auth", "set", "--mails-per-hour", "0") == "invalid_request")
            }
        }
    }

    /// The `action_link` of an invitation generated with the service_role key, sent with `host` as the Host header.
    static func generatedLink(_ keys: [String: String], host: String?) async throws -> String {
        let service = keys["serviceRoleKey"] ?? ""
        var arguments = ["-sk", "-X", "POST", "\(keys["url"] ?? "")/auth/v1/admin/generate_link", "-H", "apikey: \(service)",
                         "-H", "Authorization: Bearer \(service)", "-H", "Content-Type: application/json",
                         "-d", #"{"type":"invite","email":"linked@example.com"}"#]
        if let host { arguments += ["-H", "Host: \(host)"] }
        let result = try await Command.run("curl", arguments, check: false)
        let answer = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return answer?["action_link"] as? String ?? "no action_link in \(result.stdout) \(result.stderr)"
    }
}
