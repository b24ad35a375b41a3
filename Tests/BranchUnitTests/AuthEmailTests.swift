@testable import BranchAuth
import BranchCore
import BranchPostgres
import BranchREST
import Crypto
import Foundation
import Testing

/// Keeps what the auth module mails, in order; fails every send when told to.
final class RecordingMailer: AuthMailer, @unchecked Sendable {
    private let lock = NSLock()
    private var sent: [AuthMail] = []
    private let failing: Bool

    init(failing: Bool = false) { self.failing = failing }

    func send(_ mail: AuthMail) async throws {
        struct Refused: Error {}
        if failing { throw Refused() }
        lock.withLock { sent.append(mail) }
    }

    var mails: [AuthMail] { lock.withLock { sent } }

    /// The last mail's link and six-digit code.
    var last: (to: String, link: String, code: String)? {
        guard let mail = mails.last,
            let link = mail.body.split(separator: "\n").first(where: { $0.hasPrefix("http") }),
            let code = mail.body.firstMatch(of: /code: (\d{6})/)?.1
        else { return nil }
        return (mail.to, String(link), String(code))
    }
}

@Suite("Auth redirects")
struct AuthRedirectTests {
    @Test("links lead to the site, its own host, or an allow-listed URL or glob; anything else falls back to the site")
    func redirects() {
        let policy = AuthPolicy(siteURL: "https://app.example.com", redirectURLs: ["https://*.preview.example.com/**", "myapp://callback"])
        #expect(policy.redirect(nil) == "https://app.example.com")
        #expect(policy.redirect("https://app.example.com/welcome?x=1") == "https://app.example.com/welcome?x=1")
        #expect(policy.redirect("https://pr-7.preview.example.com/auth/done") == "https://pr-7.preview.example.com/auth/done")
        #expect(policy.redirect("myapp://callback") == "myapp://callback")
        #expect(policy.redirect("https://evil.example/steal") == "https://app.example.com")
        #expect(policy.redirect("https://a.b.preview.example.com/") == "https://app.example.com", "* stays within one label")
        #expect(policy.redirect("http://app.example.com/") == "https://app.example.com", "another scheme is another site")
        #expect(policy.redirect("https://app.example.com:8443/") == "https://app.example.com", "another port is another site")
        #expect(policy.redirect("https://user@app.example.com/") == "https://app.example.com")
        // A glob's host part matches the host alone: no fragment, query or encoded dot can end the host early.
        let wide = AuthPolicy(siteURL: "https://app.example.com", redirectURLs: ["https://*.example.com/**"])
        for hostile in ["https://2130706433#.example.com/", "https://evil%2Ecom?.example.com/", "https://evil.com?.example.com/",
                        "https://evil.com/.example.com/", "https://pr-1.example.com/done#x", "https://user:pw@pr-1.example.com/"] {
            #expect(wide.redirect(hostile) == "https://app.example.com", "\(hostile)")
        }
        #expect(wide.redirect("https://pr-1.example.com/done?x=1") == "https://pr-1.example.com/done?x=1")
        #expect(RedirectGlob("http://localhost:?000/**").matches("http://localhost:3000/a/b"))
        #expect(!RedirectGlob("https://*.example.com").matches("https://x.evil.com/.example.com"))
        // A pattern full of stars against a long URL answers at once (memoized, not exponential).
        #expect(!RedirectGlob(String(repeating: "*", count: 40) + "z").matches(String(repeating: "a", count: 2000)))
    }

    @Test("rate limits count an IPv6 client by its /64, so fresh addresses from one subscriber do not reset them")
    func ipv6Limits() {
        #expect(IPNetwork.limitKey("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64")
        #expect(IPNetwork.limitKey("2001:db8:1:2:bbbb::9") == IPNetwork.limitKey("2001:db8:1:2:aaaa::1"))
        #expect(IPNetwork.limitKey("2001:db8:1:3::1") != IPNetwork.limitKey("2001:db8:1:2::1"))
        #expect(IPNetwork.limitKey("203.0.113.7") == "203.0.113.7")
        var log = SignInFailureLog(limits: SignInLimits(perEmail: 100, perAddress: 3))
        let now = Date()
        for host in 1...3 { log.recordFailure(scope: "app", email: "e\(host)@example.com", address: "2001:db8::\(host)", now: now) }
        #expect(!log.allows(scope: "app", email: "other@example.com", address: "2001:db8::ffff", now: now), "the same /64")
        #expect(log.allows(scope: "app", email: "other@example.com", address: "2001:db9::1", now: now))
    }

    @Test("tokens are six digits and an HMAC of email and code under the project's secret; only a 64-digit hex text can be one")
    func tokens() {
        let key = Array("project-secret".utf8)
        let token = EmailToken.issue(for: "Ann@Example.com", key: key)
        #expect(token.code.count == 6 && token.code.allSatisfy(\.isNumber))
        #expect(token.hash == EmailToken.hash(email: "ann@example.com", code: token.code, key: key))
        #expect(token.hash != EmailToken.hash(email: "ann@example.com", code: token.code, key: Array("another".utf8)), "another project's secret")
        #expect(EmailToken.isHash(token.hash))
        #expect(!EmailToken.isHash("") && !EmailToken.isHash(String(repeating: "g", count: 64)))
    }
}

extension AuthDatabaseTests {
    func mailPolicy(_ mailer: RecordingMailer?, confirm: Bool = true, signup: Bool = true, interval: Int = 60, perHour: Int = 100) -> AuthPolicy {
        AuthPolicy(
            allowSignup: signup, confirmEmail: confirm, siteURL: "https://app.example.com", redirectURLs: ["https://*.preview.example.com/**"],
            otpExpirySeconds: 600, emailIntervalSeconds: interval, mailsPerHour: perHour, mailer: mailer)
    }

    @Test("a project's mails an hour are capped; a sign-up for a taken address looks like a new one; a keyless link that cannot be a token is turned away")
    func budgetsAndDisguises() async throws {
        let pg = try await prepared()
        let mailer = RecordingMailer()
        let capped = context(pg, policy: mailPolicy(mailer, confirm: false, perHour: 2))
        let run = UUID().uuidString.prefix(8).lowercased()
        for index in 0..<2 {
            #expect(await send("POST", "/otp", body: ["email": .string("budget\(index)-\(run)@example.com")], context: capped).status == 200)
        }
        let third = await send("POST", "/otp", body: ["email": .string("budget2-\(run)@example.com")], context: capped)
        #expect(third.status == 429 && third.json["code"] == "over_email_send_rate_limit" && mailer.mails.count == 2)

        let confirming = context(pg, policy: mailPolicy(mailer, interval: 0))
        let taken = "taken-\(run)@example.com"
        #expect(await send("POST", "/admin/users", bearer: Self.keys.serviceRole, body: ["email": .string(taken), "password": "secret-123", "email_confirm": true], context: confirming).status == 200)
        let again = await send("POST", "/signup", body: ["email": .string(taken), "password": "other-secret"], context: confirming)
        #expect(again.status == 200 && again.json["email"]?.stringValue == taken && again.json["identities"] == .array([]), "\(again.json)")
        #expect(mailer.mails.count == 2, "nothing is mailed to the account's owner")

        let link = DataRequest(method: "GET", path: "/verify", rawQuery: "token=x&type=magiclink&redirect_to=https%3A%2F%2Fevil.example", headers: [])
        let refused = try #require(AuthHandler.refusedBeforeWaking(link, policy: mailPolicy(nil), secret: Array("project-secret".utf8)))
        #expect(refused.status == 303)
        #expect(refused.headers.first { $0.name == "Location" }?.value.hasPrefix("https://app.example.com#error=access_denied&error_code=otp_expired") == true)
        let wellFormed = DataRequest(method: "GET", path: "/verify", rawQuery: "token=\(String(repeating: "ab", count: 32))&type=magiclink", headers: [])
        #expect(AuthHandler.refusedBeforeWaking(wellFormed, policy: mailPolicy(nil), secret: Array("project-secret".utf8)) == nil)
    }

    /// The query items of a link.
    func items(_ link: String) -> [String: String] {
        Dictionary((URLComponents(string: link)?.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
    }

    @Test("with confirmation on, a sign-up is mailed a link and code; it cannot sign in until the code is redeemed, once")
    func confirmedSignUp() async throws {
        let pg = try await prepared()
        let mailer = RecordingMailer()
        let context = context(pg, policy: mailPolicy(mailer))
        let email = "confirm-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let signUp = await send("POST", "/signup", body: ["email": .string(email), "password": "secret-123"], context: context)
        #expect(signUp.status == 200)
        #expect(signUp.json["access_token"] == nil && signUp.json["email"]?.stringValue == email)
        #expect(signUp.json["email_confirmed_at"] == .null && signUp.json["confirmation_sent_at"]?.stringValue != nil)
        let mail = try #require(mailer.last)
        #expect(mail.to == email && mailer.mails.last?.subject == "Confirm your signup")
        #expect(mail.link.hasPrefix("http://localhost:8420/p/app/auth/v1/verify?"))
        #expect(items(mail.link)["type"] == "signup" && items(mail.link)["redirect_to"] == "https://app.example.com")

        let early = await send("POST", "/token", query: "grant_type=password", body: ["email": .string(email), "password": "secret-123"], context: context)
        #expect(early.status == 400 && early.json["code"] == "email_not_confirmed")
        let wrong = await send("POST", "/verify", body: ["type": "email", "email": .string(email), "token": "000000"], context: context)
        if mail.code != "000000" { #expect(wrong.status == 403 && wrong.json["code"] == "otp_expired") }

        let verified = await send("POST", "/verify", body: ["type": "email", "email": .string(email), "token": .string(mail.code)], context: context)
        #expect(verified.status == 200)
        #expect(verified.json["access_token"]?.stringValue != nil && verified.json["user"]?["email_confirmed_at"]?.stringValue != nil)
        #expect(verified.json["user"]?["identities"]?.arrayValue?.first?["identity_data"]?["email_verified"] == .bool(true))
        let again = await send("POST", "/verify", body: ["type": "email", "email": .string(email), "token": .string(mail.code)], context: context)
        #expect(again.status == 403 && again.json["code"] == "otp_expired", "a code works once")
        let signIn = await send("POST", "/token", query: "grant_type=password", body: ["email": .string(email), "password": "secret-123"], context: context)
        #expect(signIn.status == 200)
    }

    @Test("resend mails a pending confirmation again (the newest code works, the older no longer); nothing for a confirmed or unknown address")
    func resend() async throws {
        let pg = try await prepared()
        let mailer = RecordingMailer()
        let context = context(pg, policy: mailPolicy(mailer, interval: 0))
        let email = "resend-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        #expect(await send("POST", "/signup", body: ["email": .string(email), "password": "secret-123"], context: context).status == 200)
        let first = try #require(mailer.last)
        let resent = await send("POST", "/resend", body: ["type": "signup", "email": .string(email)], context: context)
        #expect(resent.status == 200 && resent.json == .object([:]) && mailer.mails.count == 2)
        let second = try #require(mailer.last)
        if first.code != second.code {
            let old = await send("POST", "/verify", body: ["type": "signup", "email": .string(email), "token": .string(first.code)], context: context)
            #expect(old.status == 403, "the older code stopped working")
        }
        #expect(await send("POST", "/verify", body: ["type": "signup", "email": .string(email), "token": .string(second.code)], context: context).status == 200)
        _ = await send("POST", "/resend", body: ["type": "signup", "email": .string(email)], context: context)
        _ = await send("POST", "/resend", body: ["type": "signup", "email": "nobody-at-all@example.com"], context: context)
        #expect(mailer.mails.count == 2, "no mail to a confirmed or an unknown address")
        let phone = await send("POST", "/resend", body: ["type": "sms", "phone": "+15555550100"], context: context)
        #expect(phone.status == 400 && phone.json["code"] == "phone_provider_disabled")
    }

    @Test("a magic link creates the user, signs in through GET /verify with a redirect to an allowed URL, and never to another")
    func magicLink() async throws {
        let pg = try await prepared()
        let mailer = RecordingMailer()
        let context = context(pg, policy: mailPolicy(mailer, confirm: false))
        let email = "magic-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let otp = await send(
            "POST", "/otp", query: "redirect_to=https%3A%2F%2Fpr-3.preview.example.com%2Fdone", body: ["email": .string(email), "create_user": true],
            context: context)
        #expect(otp.status == 200 && otp.json == .object([:]))
        let mail = try #require(mailer.last)
        let query = "token=\(items(mail.link)["token"] ?? "")&type=magiclink&redirect_to=\(items(mail.link)["redirect_to"] ?? "")"
        let redirect = await send("GET", "/verify", query: query, context: context)
        #expect(redirect.status == 303)
        let location = try #require(redirect.response.headers.first { $0.name == "Location" }?.value)
        #expect(location.hasPrefix("https://pr-3.preview.example.com/done#access_token="))
        let fragment = Dictionary(uniqueKeysWithValues: location.split(separator: "#")[1].split(separator: "&").map {
            let pair = $0.split(separator: "=", maxSplits: 1)
            return (String(pair[0]), String(pair.count > 1 ? pair[1] : ""))
        })
        #expect(fragment["token_type"] == "bearer" && fragment["type"] == "magiclink" && fragment["refresh_token"]?.isEmpty == false)
        let user = await send("GET", "/user", bearer: fragment["access_token"], context: context)
        #expect(user.status == 200 && user.json["email"]?.stringValue == email && user.json["email_confirmed_at"]?.stringValue != nil)

        // A used link redirects with the error; a link naming a foreign redirect goes to the site instead.
        let reused = await send("GET", "/verify", query: query, context: context)
        let reusedLocation = reused.response.headers.first { $0.name == "Location" }?.value ?? ""
        #expect(reusedLocation.hasPrefix("https://pr-3.preview.example.com/done#error=access_denied&error_code=otp_expired"))
        let foreign = await send("GET", "/verify", query: "token=\(String(repeating: "a", count: 64))&type=magiclink&redirect_to=https%3A%2F%2Fevil.example%2F", context: context)
        #expect(foreign.response.headers.first { $0.name == "Location" }?.value.hasPrefix("https://app.example.com#error=") == true)

        // A second mail within the interval is refused with GoTrue's wording.
        _ = await send("POST", "/otp", body: ["email": .string(email)], context: context)
        let tooSoon = await send("POST", "/otp", body: ["email": .string(email)], context: context)
        #expect(tooSoon.status == 429 && tooSoon.json["code"] == "over_email_send_rate_limit")
    }

    @Test("PKCE: the followed link redirects with a code that only the verifier's holder exchanges, once")
    func pkce() async throws {
        let pg = try await prepared()
        let mailer = RecordingMailer()
        let context = context(pg, policy: mailPolicy(mailer, confirm: false))
        let email = "pkce-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let verifier = String(repeating: "v3rifier-", count: 6)
        let challenge = Base64URL.encode(Array(SHA256.hash(data: Data(verifier.utf8))))
        let half = await send("POST", "/otp", body: ["email": .string(email), "code_challenge": .string(challenge)], context: context)
        #expect(half.status == 400 && half.json["code"] == "validation_failed", "a challenge needs its method")
        let otp = await send(
            "POST", "/otp", body: ["email": .string(email), "code_challenge": .string(challenge), "code_challenge_method": "s256"], context: context)
        #expect(otp.status == 200)
        let mail = try #require(mailer.last)
        let redirect = await send("GET", "/verify", query: "token=\(items(mail.link)["token"] ?? "")&type=signup", context: context)
        let location = try #require(redirect.response.headers.first { $0.name == "Location" }?.value)
        #expect(redirect.status == 303 && location.hasPrefix("https://app.example.com?code="), "\(location)")
        #expect(!location.contains("access_token"), "no session in a PKCE link")
        let code = String(location.split(separator: "=", maxSplits: 1)[1])
        let wrong = await send(
            "POST", "/token", query: "grant_type=pkce", body: ["auth_code": .string(code), "code_verifier": .string(verifier + "x")], context: context)
        #expect(wrong.status == 400 && wrong.json["code"] == "bad_code_verifier")
        let session = await send(
            "POST", "/token", query: "grant_type=pkce", body: ["auth_code": .string(code), "code_verifier": .string(verifier)], context: context)
        #expect(session.status == 200 && session.json["user"]?["email"]?.stringValue == email && session.json["access_token"]?.stringValue != nil)
        let again = await send(
            "POST", "/token", query: "grant_type=pkce", body: ["auth_code": .string(code), "code_verifier": .string(verifier)], context: context)
        #expect(again.status == 404 && again.json["code"] == "flow_state_not_found")
    }

    @Test("recovery mails known users only, expires, and its session may set a new password")
    func recovery() async throws {
        let pg = try await prepared()
        let mailer = RecordingMailer()
        let context = context(pg, policy: mailPolicy(mailer, confirm: false, interval: 0))
        let email = "recover-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let unknown = await send("POST", "/recover", body: ["email": .string(email)], context: context)
        #expect(unknown.status == 200 && unknown.json == .object([:]) && mailer.mails.isEmpty, "no user, no mail, and no sign of it")
        #expect(await send("POST", "/signup", body: ["email": .string(email), "password": "first-pass"], context: context).status == 200)

        #expect(await send("POST", "/recover", body: ["email": .string(email)], context: context).status == 200)
        let expiring = try #require(mailer.last)
        #expect(mailer.mails.last?.subject == "Reset Your Password")
        try await withConnection(pg.connection(database: Self.database)) { connection in
            try await connection.query("update auth.users set recovery_sent_at = now() - interval '11 minutes' where lower(email) = $1", [email])
        }
        let expired = await send("POST", "/verify", body: ["type": "recovery", "token_hash": .string(items(expiring.link)["token"] ?? "")], context: context)
        #expect(expired.status == 403 && expired.json["code"] == "otp_expired")

        #expect(await send("POST", "/recover", body: ["email": .string(email)], context: context).status == 200)
        let fresh = try #require(mailer.last)
        let session = await send("POST", "/verify", body: ["type": "recovery", "token_hash": .string(items(fresh.link)["token"] ?? "")], context: context)
        #expect(session.status == 200)
        let token = try #require(session.json["access_token"]?.stringValue)
        #expect(await send("PUT", "/user", bearer: token, body: ["password": "second-pass"], context: context).status == 200)
        let signIn = await send("POST", "/token", query: "grant_type=password", body: ["email": .string(email), "password": "second-pass"], context: context)
        #expect(signIn.status == 200)
    }

    @Test("guessing codes hits the limit; closed sign-ups, no mail server and a failing one are clear errors that leave nothing behind")
    func refusals() async throws {
        let pg = try await prepared()
        let mailer = RecordingMailer()
        let email = "guess-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let context = context(pg, policy: mailPolicy(mailer, confirm: false))
        #expect(await send("POST", "/otp", body: ["email": .string(email)], context: context).status == 200)
        let code = try #require(mailer.last?.code)
        let wrongCode = code == "111111" ? "222222" : "111111"
        for _ in 0..<10 {
            _ = await send("POST", "/verify", body: ["type": "email", "email": .string(email), "token": .string(wrongCode)], context: context)
        }
        let limited = await send("POST", "/verify", body: ["type": "email", "email": .string(email), "token": .string(code)], context: context)
        #expect(limited.status == 429 && limited.json["code"] == "over_request_rate_limit", "the right code after ten wrong ones waits")

        let closed = self.context(pg, policy: mailPolicy(mailer, confirm: false, signup: false))
        let stranger = "stranger-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let signUp = await send("POST", "/signup", body: ["email": .string(stranger), "password": "secret-123"], context: closed)
        #expect(signUp.status == 422 && signUp.json["code"] == "signup_disabled")
        #expect(await send("POST", "/otp", body: ["email": .string(stranger)], context: closed).json["code"] == "signup_disabled")
        let noCreate = await send("POST", "/otp", body: ["email": .string(stranger), "create_user": false], context: context)
        #expect(noCreate.status == 422 && noCreate.json["code"] == "otp_disabled")

        let mailless = await send("POST", "/otp", body: ["email": .string(stranger)], context: self.context(pg, policy: AuthPolicy()))
        #expect(mailless.status == 400 && mailless.json["code"] == "email_provider_disabled")

        let broken = self.context(pg, policy: mailPolicy(RecordingMailer(failing: true), confirm: true))
        let failed = await send("POST", "/signup", body: ["email": .string(stranger), "password": "secret-123"], context: broken)
        #expect(failed.status == 500 && failed.json["msg"] == "Error sending confirmation email")
        let left = try await withConnection(pg.connection(database: Self.database)) { connection in
            try await connection.query("select count(*) from auth.users where lower(email) = $1", [stranger]).scalar
        }
        #expect(left == "0", "the mail failed, so the user was not made")
    }

    @Test("the service role invites by mail and generates links without mail; an email change is confirmed at both addresses")
    func invitesLinksAndEmailChange() async throws {
        let pg = try await prepared()
        let mailer = RecordingMailer()
        let context = context(pg, policy: mailPolicy(mailer, interval: 0))
        let invitee = "invitee-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let anonymous = await send("POST", "/invite", bearer: Self.keys.anon, body: ["email": .string(invitee)], context: context)
        #expect(anonymous.status == 403 && anonymous.json["code"] == "not_admin")
        let invited = await send("POST", "/invite", bearer: Self.keys.serviceRole, body: ["email": .string(invitee), "data": ["team": "a"]], context: context)
        #expect(invited.status == 200 && invited.json["invited_at"]?.stringValue != nil && invited.json["user_metadata"]?["team"] == "a")
        #expect(mailer.mails.last?.subject == "You have been invited")
        let accepted = await send("POST", "/verify", body: ["type": "invite", "email": .string(invitee), "token": .string(mailer.last?.code ?? "")], context: context)
        #expect(accepted.status == 200 && accepted.json["user"]?["email_confirmed_at"]?.stringValue != nil)
        let reinvite = await send("POST", "/invite", bearer: Self.keys.serviceRole, body: ["email": .string(invitee)], context: context)
        #expect(reinvite.status == 422 && reinvite.json["code"] == "email_exists")

        let before = mailer.mails.count
        let link = await send(
            "POST", "/admin/generate_link", bearer: Self.keys.serviceRole, body: ["type": "magiclink", "email": .string(invitee)],
            context: self.context(pg, policy: AuthPolicy()))
        #expect(link.status == 200 && mailer.mails.count == before, "no mail server needed, none sent")
        #expect(link.json["verification_type"] == "magiclink" && link.json["email"]?.stringValue == invitee)
        let code = try #require(link.json["email_otp"]?.stringValue)
        #expect(link.json["action_link"]?.stringValue?.contains("token=\(link.json["hashed_token"]?.stringValue ?? "-")") == true)
        let signedIn = await send("POST", "/verify", body: ["type": "magiclink", "email": .string(invitee), "token": .string(code)], context: context)
        #expect(signedIn.status == 200)
        let missing = await send("POST", "/admin/generate_link", bearer: Self.keys.serviceRole, body: ["type": "recovery", "email": "nobody@example.com"], context: context)
        #expect(missing.status == 404)

        let token = try #require(signedIn.json["access_token"]?.stringValue)
        let newEmail = "moved-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let change = await send("PUT", "/user", bearer: token, body: ["email": .string(newEmail)], context: context)
        #expect(change.status == 200 && change.json["email"]?.stringValue == invitee && change.json["new_email"]?.stringValue == newEmail)
        // Secure email change (the default): a mail to each address, each with its own code.
        let sent = mailer.mails.suffix(2)
        let toNew = try #require(sent.first { $0.to == newEmail })
        let toCurrent = try #require(sent.first { $0.to == invitee })
        #expect(toCurrent.body.contains("update of your email from \(invitee) to \(newEmail)"))
        func codeIn(_ mail: AuthMail) -> String { mail.body.firstMatch(of: /code: (\d{6})/).map { String($0.1) } ?? "" }
        // The new address's code does not work with the current address, nor the other way round.
        let crossed = await send("POST", "/verify", body: ["type": "email_change", "email": .string(invitee), "token": .string(codeIn(toNew))], context: context)
        #expect(crossed.status == 403 && crossed.json["code"] == "otp_expired")
        // The first confirmation: GoTrue's message, no session, and the email not changed yet.
        let first = await send("POST", "/verify", body: ["type": "email_change", "email": .string(invitee), "token": .string(codeIn(toCurrent))], context: context)
        #expect(first.status == 200 && first.json["msg"]?.stringValue == VerifyEndpoint.singleConfirmationAccepted && first.json["access_token"] == nil)
        let waiting = await send("GET", "/user", bearer: token, context: context)
        #expect(waiting.json["email"]?.stringValue == invitee && waiting.json["new_email"]?.stringValue == newEmail)
        let again = await send("POST", "/verify", body: ["type": "email_change", "email": .string(invitee), "token": .string(codeIn(toCurrent))], context: context)
        #expect(again.status == 403, "a code works once")
        // The second: the change applies, with a session.
        let confirmed = await send("POST", "/verify", body: ["type": "email_change", "email": .string(newEmail), "token": .string(codeIn(toNew))], context: context)
        #expect(confirmed.status == 200 && confirmed.json["user"]?["email"]?.stringValue == newEmail && confirmed.json["access_token"] != nil)
        let after = try await withConnection(pg.connection(database: Self.database)) { connection in
            try await connection.query(
                "select email_change, email_change_token_new, email_change_token_current, email_change_confirm_status::text from auth.users where lower(email) = $1",
                [newEmail]).rows.first
        }
        #expect(after == ["", "", "", "0"], "nothing of the change is left pending")
    }

    @Test("with secure email change off, the new address alone confirms; a followed link of the first of two tokens says so in its redirect")
    func emailChangeAtTheNewAddressOnly() async throws {
        let pg = try await prepared()
        let mailer = RecordingMailer()
        var policy = mailPolicy(mailer, interval: 0)
        policy.secureEmailChange = false
        let relaxed = context(pg, policy: policy)
        let run = UUID().uuidString.prefix(8).lowercased()
        let email = "relaxed-\(run)@example.com", newEmail = "relaxed-new-\(run)@example.com"
        #expect(await send("POST", "/signup", body: ["email": .string(email), "password": "secret-123"], context: relaxed).status == 200)
        let signedUp = await send("POST", "/verify", body: ["type": "signup", "email": .string(email), "token": .string(mailer.last?.code ?? "")], context: relaxed)
        let token = try #require(signedUp.json["access_token"]?.stringValue)
        let before = mailer.mails.count
        let change = await send("PUT", "/user", bearer: token, body: ["email": .string(newEmail)], context: relaxed)
        #expect(change.status == 200 && mailer.mails.count == before + 1 && mailer.last?.to == newEmail)
        let confirmed = await send(
            "POST", "/verify", body: ["type": "email_change", "email": .string(newEmail), "token": .string(mailer.last?.code ?? "")], context: relaxed)
        #expect(confirmed.status == 200 && confirmed.json["user"]?["email"]?.stringValue == newEmail)

        // Secure again: the link from the current address is the first of two; its redirect carries GoTrue's message.
        let secure = context(pg, policy: mailPolicy(mailer, interval: 0))
        let signedIn = try #require(confirmed.json["access_token"]?.stringValue)
        let third = "relaxed-third-\(run)@example.com"
        let moved = await send("PUT", "/user", bearer: signedIn, body: ["email": .string(third)], context: secure)
        #expect(moved.status == 200)
        let atCurrent = try #require(mailer.mails.last { $0.to == newEmail })
        let link = try #require(atCurrent.body.split(separator: "\n").first { $0.hasPrefix("http") })
        let query = String(link.split(separator: "?", maxSplits: 1).last ?? "")
        let followed = await send("GET", "/verify", query: query, context: secure)
        let location = followed.response.headers.first { $0.name == "Location" }?.value ?? ""
        #expect(followed.status == 303 && location.contains("#message=Confirmation%20link%20accepted"), "\(location)")
    }
}

@Suite("Auth mail templates")
struct MailTemplateTests {
    @Test("variables are filled in, escaped in an HTML body and not in plain text; anything but a known variable is refused with its name")
    func templates() {
        let values = ["ConfirmationURL": "https://db.example/verify?token=a&type=signup", "Token": "123456", "Email": "o'brien@example.com"]
        let html = "<p>Hi {{ .Email }}: <a href=\"{{.ConfirmationURL}}\">confirm</a> or type {{ .Token }}</p>"
        #expect(MailTemplate.isHTML(html) && !MailTemplate.isHTML("Hi {{ .Email }}"))
        #expect(MailTemplate.render(html, values: values, html: true)
            == "<p>Hi o&#39;brien@example.com: <a href=\"https://db.example/verify?token=a&amp;type=signup\">confirm</a> or type 123456</p>")
        #expect(MailTemplate.render("Go to {{ .ConfirmationURL }} ({{ .SiteURL }})", values: values, html: false)
            == "Go to https://db.example/verify?token=a&type=signup ()")
        #expect(MailTemplate.problem(MailTemplate(subject: "Welcome", body: html), kind: "confirmation") == nil)
        #expect(MailTemplate.problem(MailTemplate(subject: "Welcome"), kind: "recovery") == nil, "a subject alone keeps the default body")
        #expect(MailTemplate.problem(MailTemplate(body: "{{ .ConfirmationURL }}"), kind: "signup")?.contains("confirmation, invite") == true)
        #expect(MailTemplate.problem(MailTemplate(body: "Hello {{ .Name }} {{ .Token }}"), kind: "invite")?.contains("{{ .Name }}") == true)
        #expect(MailTemplate.problem(MailTemplate(body: "{{ if .Token }}{{ .Token }}{{ end }}"), kind: "invite")?.contains("template logic") == true)
        #expect(MailTemplate.problem(MailTemplate(body: "Hello {{ .Email }}"), kind: "magic_link")?.contains("could not confirm") == true)
        #expect(MailTemplate.problem(MailTemplate(subject: "two\nlines"), kind: "recovery")?.contains("one line") == true)
    }
}

extension AuthDatabaseTests {
    @Test("a project's own wording replaces the default subject and body of that kind of mail only, and an HTML body goes as HTML")
    func ownWording() async throws {
        let pg = try await prepared()
        let mailer = RecordingMailer()
        var policy = mailPolicy(mailer, confirm: false, interval: 0)
        policy.templates = ["magic_link": MailTemplate(subject: "Sign in to {{ .SiteURL }}", body: "<p>Code {{ .Token }} for {{ .Email }}: <a href=\"{{ .ConfirmationURL }}\">sign in</a></p>")]
        let context = context(pg, policy: policy)
        let email = "worded-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let made = await send(
            "POST", "/admin/users", bearer: Self.keys.serviceRole, body: ["email": .string(email), "password": "secret-123", "email_confirm": true],
            context: context)
        #expect(made.status == 200)
        #expect(await send("POST", "/otp", body: ["email": .string(email)], context: context).status == 200)
        let magic = try #require(mailer.mails.last)
        #expect(magic.subject == "Sign in to https://app.example.com" && magic.html)
        let code = try #require(magic.body.firstMatch(of: /Code (\d{6}) for/)?.1)
        #expect(magic.body.contains("for \(email): <a href=\"http://localhost:8420/p/app/auth/v1/verify?token="))
        #expect(magic.body.contains("&amp;type=magiclink"), "the link is escaped for its HTML attribute")
        let verified = await send("POST", "/verify", body: ["type": "email", "email": .string(email), "token": .string(String(code))], context: context)
        #expect(verified.status == 200, "the code in the project's wording works: \(verified.json)")
        #expect(await send("POST", "/recover", body: ["email": .string(email)], context: context).status == 200)
        #expect(mailer.mails.last?.subject == "Reset Your Password" && mailer.mails.last?.html == false, "other kinds keep the default")
    }
}
