@testable import BranchAuth
import BranchCore
import BranchPostgres
import BranchREST
import Crypto
import Foundation
import Testing

/// JWTs, project keys, the sign-in limiter's decisions and the small parsers of BranchAuth, without a database.
@Suite("Auth")
struct AuthTests {
    static let secret = Array("a-test-secret-of-at-least-32-bytes!".utf8)
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    static func sign(_ claims: [String: JSONValue]) -> String { JWT.sign(claims, secret: secret) }

    /// `token` with its payload segment replaced by `payload` (the signature left as it was).
    static func replacingPayload(_ token: String, with payload: String) -> String {
        let parts = token.split(separator: ".")
        return "\(parts[0]).\(Base64URL.encode(Array(payload.utf8))).\(parts[2])"
    }

    // MARK: JWT

    @Test("sign then verify returns the claims; the header is HS256/JWT and segments are unpadded base64url")
    func roundTrip() throws {
        let claims: [String: JSONValue] = ["sub": "user-1", "role": "authenticated", "iat": 1_700_000_000, "exp": 1_700_003_600, "n": ["a": [1, 2]]]
        let token = Self.sign(claims)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 3)
        #expect(parts[0] == "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9")
        #expect(!token.contains("=") && !token.contains("+") && !token.contains("/"))
        #expect(try JWT.verify(token, secret: Self.secret, now: Self.now) == claims)
        #expect(Self.sign(claims) == token, "the same claims sign to the same token")
    }

    @Test("jwt.io's HS256 example verifies with its secret, and not with another")
    func knownVector() throws {
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
        // Its signature checks out; it has no exp, which Branch requires after the signature.
        #expect(throws: JWTError.missingExpiry) { try JWT.verify(token, secret: Array("your-256-bit-secret".utf8), now: Self.now) }
        #expect(throws: JWTError.badSignature) { try JWT.verify(token, secret: Array("another-secret".utf8), now: Self.now) }
    }

    @Test("a tampered payload or signature is badSignature; alg none, HS512 and RS256 are refused; broken tokens are malformed; exp is required")
    func refusals() throws {
        let exp = JSONValue.integer(Int(Self.now.timeIntervalSince1970) + 3600)
        let token = Self.sign(["sub": "user-1", "role": "authenticated", "exp": exp])
        #expect(try JWT.verify(token, secret: Self.secret, now: Self.now)["sub"] == "user-1")
        #expect(throws: JWTError.missingExpiry) { try JWT.verify(Self.sign(["sub": "user-1", "role": "authenticated"]), secret: Self.secret, now: Self.now) }
        #expect(throws: JWTError.missingExpiry) { try JWT.verify(Self.sign(["role": "anon", "exp": .null]), secret: Self.secret, now: Self.now) }
        #expect(throws: JWTError.badSignature) {
            try JWT.verify(Self.replacingPayload(token, with: #"{"role":"service_role","sub":"user-1"}"#), secret: Self.secret, now: Self.now)
        }
        var signature = Array(token.split(separator: ".")[2])
        signature[0] = signature[0] == "A" ? "B" : "A"
        let forged = token.split(separator: ".").prefix(2).joined(separator: ".") + "." + String(signature)
        #expect(throws: JWTError.badSignature) { try JWT.verify(forged, secret: Self.secret, now: Self.now) }

        let payload = Base64URL.encode(Array(#"{"role":"service_role"}"#.utf8))
        let none = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + ".\(payload)."
        #expect(throws: JWTError.unsupportedAlgorithm) { try JWT.verify(none, secret: Self.secret, now: Self.now) }
        let rs256 = Base64URL.encode(Array(#"{"alg":"RS256","typ":"JWT"}"#.utf8)) + ".\(payload).c2ln"
        #expect(throws: JWTError.unsupportedAlgorithm) { try JWT.verify(rs256, secret: Self.secret, now: Self.now) }
        // Correctly MACed with the project's secret, but under another algorithm's name: still refused.
        for alg in ["HS512", "RS256", "hs256", "none"] {
            let header = Base64URL.encode(Array(#"{"alg":"\#(alg)","typ":"JWT"}"#.utf8))
            let body = Base64URL.encode(Array(#"{"role":"service_role","exp":9999999999}"#.utf8))
            let mac = HMAC<SHA256>.authenticationCode(for: Array("\(header).\(body)".utf8), using: SymmetricKey(data: Self.secret))
            #expect(throws: JWTError.unsupportedAlgorithm, "\(alg)") { try JWT.verify("\(header).\(body).\(Base64URL.encode(mac))", secret: Self.secret, now: Self.now) }
        }

        for broken in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.c2ln", Base64URL.encode(Array("not json".utf8)) + ".e30.c2ln"] {
            #expect(throws: JWTError.malformed, "\(broken)") { try JWT.verify(broken, secret: Self.secret, now: Self.now) }
        }
        let stringExp = Self.sign(["exp": "tomorrow"])
        #expect(throws: JWTError.malformed) { try JWT.verify(stringExp, secret: Self.secret, now: Self.now) }
    }

    @Test("exp, nbf and iat are checked with the leeway")
    func timeClaims() throws {
        let now = Int(Self.now.timeIntervalSince1970)
        let expiredLongAgo = Self.sign(["exp": .integer(now - 60)])
        #expect(throws: JWTError.expired) { try JWT.verify(expiredLongAgo, secret: Self.secret, now: Self.now) }
        let justExpired = Self.sign(["exp": .integer(now - 10)])
        #expect(try JWT.verify(justExpired, secret: Self.secret, now: Self.now)["exp"] == .integer(now - 10))
        #expect(throws: JWTError.expired) { try JWT.verify(justExpired, secret: Self.secret, now: Self.now, leeway: 0) }
        let fractional = Self.sign(["exp": .number(Double(now) - 0.5)])
        #expect(throws: JWTError.expired) { try JWT.verify(fractional, secret: Self.secret, now: Self.now, leeway: 0) }

        let exp = JSONValue.integer(now + 3600)
        let notYet = Self.sign(["nbf": .integer(now + 60), "exp": exp])
        #expect(throws: JWTError.notYetValid) { try JWT.verify(notYet, secret: Self.secret, now: Self.now) }
        #expect(try JWT.verify(Self.sign(["nbf": .integer(now + 20), "exp": exp]), secret: Self.secret, now: Self.now)["nbf"] != nil)
        let issuedInFuture = Self.sign(["iat": .integer(now + 120), "exp": exp])
        #expect(throws: JWTError.notYetValid) { try JWT.verify(issuedInFuture, secret: Self.secret, now: Self.now) }
        #expect(try JWT.verify(Self.sign(["iat": .integer(now + 10), "exp": exp]), secret: Self.secret, now: Self.now)["iat"] != nil)
    }

    // MARK: Project keys

    @Test("the anon and service_role keys are deterministic, three segments, and carry role, iss, ref and ten years")
    func projectKeys() throws {
        let secret = ProjectKeys.newSecret()
        let issued = Date(timeIntervalSince1970: 1_700_000_000.7)
        let keys = ProjectKeys.keys(project: "shop", secret: secret, issuedAt: issued)
        #expect(ProjectKeys.keys(project: "shop", secret: secret, issuedAt: issued) == keys)
        #expect(keys.anon != keys.serviceRole)
        for (key, role) in [(keys.anon, "anon"), (keys.serviceRole, "service_role")] {
            #expect(key.split(separator: ".", omittingEmptySubsequences: false).count == 3)
            let claims = try JWT.verify(key, secret: ProjectKeys.secretBytes(secret), now: Self.now)
            #expect(claims == [
                "role": .string(role), "iss": "branch", "ref": "shop", "iat": 1_700_000_000, "exp": .integer(1_700_000_000 + 10 * 365 * 24 * 3600),
            ])
        }
        #expect(ProjectKeys.keys(project: "other", secret: secret, issuedAt: issued).anon != keys.anon)
        #expect(throws: JWTError.badSignature) {
            try JWT.verify(keys.anon, secret: ProjectKeys.secretBytes(ProjectKeys.newSecret()), now: Self.now)
        }
    }

    @Test("new secrets are 32 random bytes in base64url, and sign as their text")
    func secrets() {
        let first = ProjectKeys.newSecret()
        #expect(first.count == 43)
        #expect(Base64URL.decode(Substring(first))?.count == 32)
        #expect(first != ProjectKeys.newSecret())
        #expect(ProjectKeys.secretBytes("super-secret-jwt-token-with-at-least-32-characters-long") == Array("super-secret-jwt-token-with-at-least-32-characters-long".utf8))
    }

    // MARK: Sign-in limits

    @Test("ten failures per email within five minutes block that email, and only until the window slides past")
    func emailLimit() {
        var log = SignInFailureLog()
        let start = Self.now
        for second in 0..<9 {
            log.recordFailure(scope: "p", email: "A@x.io", address: nil, now: start + Double(second))
        }
        #expect(log.allows(scope: "p", email: "a@x.io", address: nil, now: start + 9))
        log.recordFailure(scope: "p", email: "a@x.io", address: nil, now: start + 9)
        #expect(!log.allows(scope: "p", email: "a@x.io", address: nil, now: start + 10))
        #expect(!log.allows(scope: "p", email: "A@X.IO", address: nil, now: start + 299))
        #expect(log.allows(scope: "p", email: "b@x.io", address: nil, now: start + 10), "other emails are not affected")
        #expect(log.allows(scope: "other-project", email: "a@x.io", address: nil, now: start + 10), "nor other projects")
        #expect(log.allows(scope: "p", email: "a@x.io", address: nil, now: start + 300), "the first failure left the window")
        #expect(log.recentFailures(.email(scope: "p", "a@x.io"), now: start + 300) == 9)
    }

    @Test("thirty failures from one address block it for every email; a success clears the email only")
    func addressLimitAndSuccess() {
        var log = SignInFailureLog()
        for index in 0..<30 {
            log.recordFailure(scope: "p", email: "user\(index)@x.io", address: "10.0.0.1", now: Self.now)
        }
        #expect(!log.allows(scope: "p", email: "new@x.io", address: "10.0.0.1", now: Self.now))
        #expect(log.allows(scope: "p", email: "new@x.io", address: "10.0.0.2", now: Self.now))

        var emails = SignInFailureLog(limits: SignInLimits(perEmail: 2))
        emails.recordFailure(scope: "p", email: "a@x.io", address: "10.0.0.3", now: Self.now)
        emails.recordFailure(scope: "p", email: "a@x.io", address: "10.0.0.3", now: Self.now)
        #expect(!emails.allows(scope: "p", email: "a@x.io", address: "10.0.0.4", now: Self.now))
        emails.recordSuccess(scope: "p", email: "A@x.io")
        #expect(emails.allows(scope: "p", email: "a@x.io", address: "10.0.0.4", now: Self.now))
        #expect(emails.recentFailures(.address(scope: "p", "10.0.0.3"), now: Self.now) == 2)
    }

    @Test("the log keeps at most its limit of failures per key and forgets the stalest keys beyond its size")
    func boundedMemory() {
        var log = SignInFailureLog(limits: SignInLimits(perEmail: 3, perAddress: 3, window: 60, maximumTrackedKeys: 10))
        for index in 0..<100 {
            log.recordFailure(scope: "p", email: "same@x.io", address: nil, now: Self.now + Double(index))
        }
        #expect(log.recentFailures(.email(scope: "p", "same@x.io"), now: Self.now + 99) == 3)
        for index in 0..<25 {
            log.recordFailure(scope: "p", email: "user\(index)@x.io", address: nil, now: Self.now + 100 + Double(index))
        }
        #expect(log.trackedKeys <= 10)
        #expect(log.recentFailures(.email(scope: "p", "user24@x.io"), now: Self.now + 125) == 1, "the newest is kept")
    }

    @Test("the limiter actor applies the same decisions")
    func limiterActor() async {
        let limiter = SignInLimiter(limits: SignInLimits(perEmail: 1))
        #expect(await limiter.allows(scope: "p", email: "a@x.io", address: nil, now: Self.now))
        await limiter.recordFailure(scope: "p", email: "a@x.io", address: nil, now: Self.now)
        #expect(await !limiter.allows(scope: "p", email: "a@x.io", address: nil, now: Self.now))
        await limiter.recordSuccess(scope: "p", email: "a@x.io")
        #expect(await limiter.allows(scope: "p", email: "a@x.io", address: nil, now: Self.now))
    }

    // MARK: Small parts

    @Test("Go durations as ban_duration uses them")
    func goDurations() {
        #expect(GoDuration.seconds("24h") == 86_400)
        #expect(GoDuration.seconds("1h30m") == 5_400)
        #expect(GoDuration.seconds("1.5h") == 5_400)
        #expect(GoDuration.seconds("90s") == 90)
        #expect(GoDuration.seconds("500ms") == 0.5)
        #expect(GoDuration.seconds("0") == 0)
        for bad in ["", "h", "10", "10x", "1h-", "."] { #expect(GoDuration.seconds(bad) == nil, "\(bad)") }
    }

    @Test("emails are trimmed and lower-cased; malformed ones and short passwords are refused as GoTrue refuses them")
    func inputChecks() throws {
        #expect(try AuthInput.validEmail("  Jane.Doe+tag@Example.COM ") == "jane.doe+tag@example.com")
        #expect(try AuthInput.validEmail("me@localhost") == "me@localhost")
        for bad in ["", "plain", "@x.io", "a@", "a@-x.io", "a b@x.io", "a@x..io"] {
            #expect(throws: AuthFailure.self, "\(bad)") { try AuthInput.validEmail(bad) }
        }
        #expect(throws: AuthFailure.weakPassword(minimumLength: 6)) { try AuthInput.checkPassword("12345") }
        try AuthInput.checkPassword("123456")
        #expect(throws: AuthFailure.self) { try AuthInput.checkPassword(String(repeating: "x", count: 73)) }
    }

    @Test("error bodies carry code and error_code, msg and message; weak_password its reasons")
    func errorBodies() throws {
        let body = try #require(JSONText.decode(AuthFailure.weakPassword(minimumLength: 6).body))
        #expect(body == [
            "code": "weak_password", "error_code": "weak_password", "msg": "Password should be at least 6 characters.",
            "message": "Password should be at least 6 characters.", "weak_password": ["reasons": ["length"]],
        ])
        let response = AuthReply.failure(.invalidCredentials)
        #expect(response.status == 400)
        #expect(response.headers.contains { $0.name == "X-Supabase-Api-Version" && $0.value == "2024-01-01" })
        #expect(response.headers.contains { $0.name == "Content-Type" && $0.value.hasPrefix("application/json") })
        #expect(BranchAuth.JSONText.string("a\"b\\c\n\u{1}é") == #""a\"b\\c\n\u0001é""#)
    }
}

// MARK: - Against Postgres

/// `AuthDatabase` over new connections as supabase_auth_admin (trust over the Unix socket, as the
/// service's pool connects).
struct ScratchAuthDatabase: AuthDatabase {
    let info: ConnectionInfo

    func transaction<T: Sendable>(_ body: @Sendable (PGConnection) async throws -> T) async throws -> T {
        try await withConnection(info) { connection in
            try await connection.execute("begin")
            do {
                let result = try await body(connection)
                try await connection.execute("commit")
                return result
            } catch {
                _ = try? await connection.execute("rollback")
                throw error
            }
        }
    }
}

/// The bootstrap script and the GoTrue endpoints against one throw-away Postgres: the script twice on
/// a database owned by an ordinary role, then a user's whole life through `AuthHandler`.
@Suite("Auth against a throw-away Postgres", .serialized, .enabled(if: ThrowAwayPostgres.canRun), ThrowAwayPostgres.Scope())
struct AuthDatabaseTests {
    static let database = "auth_app"
    static let owner = "auth_app_owner"
    static let secret = ProjectKeys.newSecret()
    static let keys = ProjectKeys.keys(project: "app", secret: secret, issuedAt: Date())

    var pg: ThrowAwayPostgres { get throws { try #require(ThrowAwayPostgres.current) } }

    /// Creates the database (once per suite) and bootstraps it.
    func prepared() async throws -> ThrowAwayPostgres {
        let pg = try pg
        try await withConnection(pg.connection()) { connection in
            if try await connection.query("select 1 from pg_database where datname = $1", [Self.database]).count == 0 {
                try await connection.execute("create role \(Self.owner) login")
                try await connection.execute("create database \(Self.database) owner \(Self.owner)")
            }
        }
        try await withConnection(pg.connection(database: Self.database)) { connection in
            try await connection.execute("begin;\n" + DataAPIBootstrap.sql(databaseOwner: Self.owner) + "\ncommit;")
        }
        return pg
    }

    func context(_ pg: ThrowAwayPostgres, limiter: SignInLimiter = SignInLimiter(), policy: AuthPolicy = AuthPolicy()) -> AuthContext {
        var info = pg.connection(database: Self.database)
        info.user = "supabase_auth_admin"
        return AuthContext(
            project: "app", jwtSecret: ProjectKeys.secretBytes(Self.secret), issuer: "http://localhost:8420/p/app/auth/v1",
            apiKeyRole: "anon", policy: policy, database: ScratchAuthDatabase(info: info), limiter: limiter)
    }

    /// Sends one request; returns the status, the body as JSON (null when empty) and the response.
    func send(
        _ method: String, _ path: String, query: String = "", bearer: String? = nil, body: JSONValue? = nil, context: AuthContext,
        address: String = "192.0.2.1"
    ) async -> (status: Int, json: JSONValue, response: DataResponse) {
        var headers = [("apikey", Self.keys.anon), ("Content-Type", "application/json;charset=UTF-8")]
        if let bearer { headers.append(("Authorization", "Bearer \(bearer)")) }
        let request = DataRequest(
            method: method, path: path, rawQuery: query, headers: headers, body: body.map { Array(JSONText.encode($0).utf8) } ?? [],
            clientAddress: address)
        let response = await AuthHandler.handle(request, context: context)
        let json = response.body.isEmpty ? JSONValue.null : (JSONText.decode(String(decoding: response.body, as: UTF8.self)) ?? .null)
        #expect(response.headers.contains { $0.name == "X-Supabase-Api-Version" && $0.value == "2024-01-01" })
        return (response.status, json, response)
    }

    /// An ISO 8601 timestamp as GoTrue writes it.
    func isTimestamp(_ value: JSONValue?) -> Bool {
        guard let text = value?.stringValue else { return false }
        return text.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z/) != nil
    }

    @Test("the bootstrap runs twice cleanly, records its version, and auth.uid() reads the request's claims")
    func bootstrap() async throws {
        let pg = try pg
        let nothingInstalled = try await withConnection(pg.connection()) { connection in
            try await connection.query(DataAPIBootstrap.installedVersionQuery)
        }
        #expect(nothingInstalled.count == 0, "nothing installed: no row, no error")
        _ = try await prepared()
        _ = try await prepared()
        try await withConnection(pg.connection(database: Self.database)) { connection in
            #expect(try await connection.query(DataAPIBootstrap.installedVersionQuery).scalar == String(DataAPIBootstrap.version))
            let roles = try await connection.query(
                "select rolname, rolcanlogin, rolinherit, rolbypassrls from pg_roles where rolname in ('anon', 'authenticated', 'service_role', 'authenticator', 'supabase_auth_admin') order by rolname")
            #expect(roles.rows == [
                ["anon", "f", "f", "f"], ["authenticated", "f", "f", "f"], ["authenticator", "t", "f", "f"], ["service_role", "f", "f", "t"],
                ["supabase_auth_admin", "t", "f", "f"],
            ])
            #expect(try await connection.query("select count(*) from _branch.schema_version").scalar == "1")
            let before = try #require(try await connection.query("select version from _branch.schema_version").scalar.flatMap { Int($0) })

            // The owner's new tables are granted to the API roles, and its DDL bumps the schema version.
            try await connection.execute("""
                begin; set local role \(Self.owner);
                create table public.notes (id bigint generated always as identity primary key, owner uuid default auth.uid(), body text);
                commit;
                """)
            let after = try #require(try await connection.query("select version from _branch.schema_version").scalar.flatMap { Int($0) })
            #expect(after > before)
            #expect(try await connection.query("select has_table_privilege('authenticated', 'public.notes', 'insert')").scalar == "t")
            #expect(try await connection.query("select has_table_privilege('anon', 'auth.users', 'select')").scalar == "f")

            let user = "6f1d6a4e-2b1c-4d0e-9a55-0c5e4b1f7a21"
            let claims = try await connection.execute("""
                begin; set local role authenticated;
                select set_config('request.jwt.claims', '{"sub":"\(user)","role":"authenticated","email":"a@x.io"}', true);
                insert into public.notes (body) values ('mine');
                select auth.uid()::text || ' ' || auth.role() || ' ' || auth.email() || ' ' || (auth.jwt() ->> 'sub') || ' '
                       || (select owner::text from public.notes);
                """)
            #expect(claims.scalar == "\(user) authenticated a@x.io \(user) \(user)")
            try await connection.execute("rollback")
            let legacy = try await connection.execute("""
                begin; set local role anon; select set_config('request.jwt.claim.sub', '\(user)', true); select auth.uid()::text;
                """)
            #expect(legacy.scalar == user)
            try await connection.execute("rollback")
            #expect(try await connection.query("select extensions.crypt('x', extensions.gen_salt('bf')) like '$2a$%'").scalar == "t")
        }
    }

    @Test("sign up, sign in, refresh with rotation, user, update, logout")
    func userLife() async throws {
        let context = context(try await prepared())
        let email = "Life.\(UUID().uuidString.prefix(8))@Example.com"

        let signUp = await send("POST", "/signup", body: ["email": .string(email), "password": "secret1", "data": ["name": "Ada"]], context: context)
        #expect(signUp.status == 200, "\(signUp.json)")
        #expect(signUp.json["token_type"] == "bearer")
        #expect(signUp.json["expires_in"] == 3600)
        let user = try #require(signUp.json["user"])
        let userID = try #require(user["id"]?.stringValue)
        #expect(user["email"] == .string(email.lowercased()))
        #expect(user["aud"] == "authenticated" && user["role"] == "authenticated")
        #expect(user["app_metadata"] == ["provider": "email", "providers": ["email"]])
        #expect(user["user_metadata"] == ["name": "Ada"])
        #expect(user["is_anonymous"] == false)
        for field in ["created_at", "updated_at", "email_confirmed_at", "confirmed_at", "last_sign_in_at"] {
            #expect(isTimestamp(user[field]), "\(field): \(String(describing: user[field]))")
        }
        let identity = try #require(user["identities"]?.arrayValue?.first)
        #expect(identity["provider"] == "email" && identity["user_id"] == .string(userID) && identity["id"] == .string(userID))
        #expect(identity["identity_data"]?["email"] == .string(email.lowercased()))
        #expect(identity["identity_id"]?.stringValue != nil && isTimestamp(identity["created_at"]))

        let accessToken = try #require(signUp.json["access_token"]?.stringValue)
        let claims = try JWT.verify(accessToken, secret: context.jwtSecret)
        #expect(claims["sub"] == .string(userID) && claims["role"] == "authenticated" && claims["aud"] == "authenticated")
        #expect(claims["iss"] == .string(context.issuer) && claims["aal"] == "aal1" && claims["is_anonymous"] == false)
        #expect(claims["user_metadata"] == ["name": "Ada"] && claims["phone"] == "")
        #expect(claims["amr"]?.arrayValue?.first?["method"] == "password")
        if case .integer(let exp)? = claims["exp"], case .integer(let iat)? = claims["iat"] {
            #expect(exp - iat == 3600 && signUp.json["expires_at"] == .integer(exp))
        } else {
            Issue.record("exp and iat must be integers")
        }
        let sessionID = try #require(claims["session_id"]?.stringValue)

        let again = await send("POST", "/signup", body: ["email": .string(email.uppercased()), "password": "secret1"], context: context)
        #expect(again.status == 422 && again.json["code"] == "user_already_exists" && again.json["error_code"] == "user_already_exists")
        let weak = await send("POST", "/signup", body: ["email": "weak@x.io", "password": "123"], context: context)
        #expect(weak.status == 422 && weak.json["code"] == "weak_password" && weak.json["weak_password"] == ["reasons": ["length"]])

        let wrong = await send("POST", "/token", query: "grant_type=password", body: ["email": .string(email), "password": "nope!!"], context: context)
        #expect(wrong.status == 400 && wrong.json["code"] == "invalid_credentials" && wrong.json["msg"] == "Invalid login credentials")
        let unknown = await send("POST", "/token", query: "grant_type=password", body: ["email": "nobody@x.io", "password": "secret1"], context: context)
        #expect(unknown.status == 400 && unknown.json["code"] == "invalid_credentials")
        let signIn = await send("POST", "/token", query: "grant_type=password", body: ["email": .string(email), "password": "secret1"], context: context)
        #expect(signIn.status == 200, "\(signIn.json)")
        let signInClaims = try JWT.verify(try #require(signIn.json["access_token"]?.stringValue), secret: context.jwtSecret)
        #expect(signInClaims["session_id"] != .string(sessionID), "each sign-in is a session of its own")

        // Refresh: a new token; the old one answers with the same child inside the reuse window, then no more.
        let refreshToken = try #require(signIn.json["refresh_token"]?.stringValue)
        #expect(refreshToken.count >= 12)
        let refreshed = await send("POST", "/token", query: "grant_type=refresh_token", body: ["refresh_token": .string(refreshToken)], context: context)
        #expect(refreshed.status == 200, "\(refreshed.json)")
        let child = try #require(refreshed.json["refresh_token"]?.stringValue)
        #expect(child != refreshToken)
        #expect(try JWT.verify(try #require(refreshed.json["access_token"]?.stringValue), secret: context.jwtSecret)["session_id"] == signInClaims["session_id"])
        let reused = await send("POST", "/token", query: "grant_type=refresh_token", body: ["refresh_token": .string(refreshToken)], context: context)
        #expect(reused.status == 200 && reused.json["refresh_token"] == .string(child))
        try await withConnection(try pg.connection(database: Self.database)) { connection in
            try await connection.query("update auth.refresh_tokens set updated_at = now() - interval '1 minute' where token = $1", [refreshToken])
        }
        let late = await send("POST", "/token", query: "grant_type=refresh_token", body: ["refresh_token": .string(refreshToken)], context: context)
        #expect(late.status == 400 && late.json["code"] == "refresh_token_not_found")
        let bogus = await send("POST", "/token", query: "grant_type=refresh_token", body: ["refresh_token": "nosuchtoken"], context: context)
        #expect(bogus.status == 400 && bogus.json["code"] == "refresh_token_not_found")

        // The current user, and updating it.
        let current = await send("GET", "/user", bearer: accessToken, context: context)
        #expect(current.status == 200 && current.json["id"] == .string(userID))
        #expect(await send("GET", "/user", context: context).json["code"] == "no_authorization")
        let anonymous = await send("GET", "/user", bearer: Self.keys.anon, context: context)
        #expect(anonymous.status == 403 && anonymous.json["code"] == "bad_jwt")
        let forged = await send("GET", "/user", bearer: JWT.sign(["sub": .string(userID)], secret: Array("wrong".utf8)), context: context)
        #expect(forged.status == 403 && forged.json["code"] == "bad_jwt")
        let updated = await send("PUT", "/user", bearer: accessToken, body: ["data": ["name": .null, "plan": "pro"]], context: context)
        #expect(updated.status == 200 && updated.json["user_metadata"] == ["plan": "pro"], "\(updated.json)")
        let same = await send("PUT", "/user", bearer: accessToken, body: ["password": "secret1"], context: context)
        #expect(same.status == 422 && same.json["code"] == "same_password")
        #expect(await send("PUT", "/user", bearer: accessToken, body: ["password": "secret2"], context: context).status == 200)
        #expect(await send("POST", "/token", query: "grant_type=password", body: ["email": .string(email), "password": "secret2"], context: context).status == 200)

        // Logging out of the first session only: its token no longer finds its session; the other one still works.
        #expect(await send("POST", "/logout", query: "scope=local", bearer: accessToken, context: context).status == 204)
        let ended = await send("GET", "/user", bearer: accessToken, context: context)
        #expect(ended.status == 403 && ended.json["code"] == "session_not_found")
        let otherToken = try #require(refreshed.json["access_token"]?.stringValue)
        #expect(await send("GET", "/user", bearer: otherToken, context: context).status == 200)
        #expect(await send("POST", "/logout", bearer: otherToken, context: context).status == 204)
        let afterGlobal = await send("POST", "/token", query: "grant_type=refresh_token", body: ["refresh_token": .string(child)], context: context)
        #expect(afterGlobal.status == 400 && afterGlobal.json["code"] == "refresh_token_not_found")
    }

    @Test("admin endpoints need a service_role bearer; create, list, get, update, delete")
    func admin() async throws {
        let context = context(try await prepared())
        let service = Self.keys.serviceRole
        #expect(await send("GET", "/admin/users", context: context).status == 401)
        let anon = await send("GET", "/admin/users", bearer: Self.keys.anon, context: context)
        #expect(anon.status == 403 && anon.json["code"] == "not_admin")

        let email = "admin.\(UUID().uuidString.prefix(8).lowercased())@x.io"
        let created = await send(
            "POST", "/admin/users", bearer: service,
            body: ["email": .string(email), "password": "hunter22", "email_confirm": true, "user_metadata": ["team": "a"],
                   "app_metadata": ["plan": "gold"]],
            context: context)
        #expect(created.status == 200, "\(created.json)")
        let id = try #require(created.json["id"]?.stringValue)
        #expect(created.json["app_metadata"] == ["provider": "email", "providers": ["email"], "plan": "gold"])
        #expect(isTimestamp(created.json["email_confirmed_at"]))
        let duplicate = await send("POST", "/admin/users", bearer: service, body: ["email": .string(email)], context: context)
        #expect(duplicate.status == 422 && duplicate.json["code"] == "email_exists")
        #expect(await send("POST", "/token", query: "grant_type=password", body: ["email": .string(email), "password": "hunter22"], context: context).status == 200)

        let unconfirmed = "unconfirmed.\(UUID().uuidString.prefix(8).lowercased())@x.io"
        #expect(await send("POST", "/admin/users", bearer: service, body: ["email": .string(unconfirmed), "password": "hunter22"], context: context).status == 200)
        let refused = await send("POST", "/token", query: "grant_type=password", body: ["email": .string(unconfirmed), "password": "hunter22"], context: context)
        #expect(refused.status == 400 && refused.json["code"] == "email_not_confirmed")

        let list = await send("GET", "/admin/users", query: "page=1&per_page=1", bearer: service, context: context)
        #expect(list.status == 200 && list.json["aud"] == "authenticated")
        #expect(list.json["users"]?.arrayValue?.count == 1)
        let total = try #require(list.response.headers.first { $0.name == "X-Total-Count" }.flatMap { Int($0.value) })
        #expect(total >= 2)
        #expect(list.response.headers.first { $0.name == "Link" }?.value.contains("</admin/users?page=2&per_page=1>; rel=\"next\"") == true)

        let fetched = await send("GET", "/admin/users/\(id)", bearer: service, context: context)
        #expect(fetched.status == 200 && fetched.json["email"] == .string(email))
        let changed = await send(
            "PUT", "/admin/users/\(id)", bearer: service, body: ["user_metadata": ["team": "b"], "app_metadata": ["plan": .null]], context: context)
        #expect(changed.status == 200 && changed.json["user_metadata"] == ["team": "b"])
        #expect(changed.json["app_metadata"] == ["provider": "email", "providers": ["email"]])
        let banned = await send("PUT", "/admin/users/\(id)", bearer: service, body: ["ban_duration": "24h"], context: context)
        #expect(banned.status == 200 && isTimestamp(banned.json["banned_until"]))
        let bannedSignIn = await send("POST", "/token", query: "grant_type=password", body: ["email": .string(email), "password": "hunter22"], context: context)
        #expect(bannedSignIn.status == 400 && bannedSignIn.json["code"] == "user_banned")

        let deleted = await send("DELETE", "/admin/users/\(id)", bearer: service, body: ["should_soft_delete": false], context: context)
        #expect(deleted.status == 200 && deleted.json == [:])
        let gone = await send("GET", "/admin/users/\(id)", bearer: service, context: context)
        #expect(gone.status == 404 && gone.json["code"] == "user_not_found")
        #expect(await send("GET", "/admin/users/not-a-uuid", bearer: service, context: context).status == 400)
    }

    @Test("bcrypt hashes from other libraries ($2b$, $2y$) still sign in; failed sign-ins hit the rate limit")
    func importedHashesAndLimits() async throws {
        let pg = try await prepared()
        let limiter = SignInLimiter(limits: SignInLimits(perEmail: 3))
        let context = context(pg, limiter: limiter)
        let email = "imported.\(UUID().uuidString.prefix(8).lowercased())@x.io"
        let created = await send("POST", "/admin/users", bearer: Self.keys.serviceRole, body: ["email": .string(email), "email_confirm": true], context: context)
        let id = try #require(created.json["id"]?.stringValue)
        try await withConnection(pg.connection(database: Self.database)) { connection in
            try await connection.query(
                "update auth.users set encrypted_password = '$2b$' || substr(extensions.crypt('from-python', extensions.gen_salt('bf', 4)), 5) where id = $1::uuid",
                [id])
        }
        let signIn = await send("POST", "/token", query: "grant_type=password", body: ["email": .string(email), "password": "from-python"], context: context)
        #expect(signIn.status == 200, "\(signIn.json)")

        for _ in 0..<3 {
            let wrong = await send("POST", "/token", query: "grant_type=password", body: ["email": .string(email), "password": "guess!"], context: context)
            #expect(wrong.json["code"] == "invalid_credentials")
        }
        let limited = await send("POST", "/token", query: "grant_type=password", body: ["email": .string(email), "password": "from-python"], context: context)
        #expect(limited.status == 429 && limited.json["code"] == "over_request_rate_limit")
        #expect(await send("GET", "/health", context: context).json["name"] == "GoTrue")
        #expect(await send("GET", "/settings", context: context).json["external"]?["email"] == true)
        #expect(await send("GET", "/nope", context: context).status == 404)
    }
}
