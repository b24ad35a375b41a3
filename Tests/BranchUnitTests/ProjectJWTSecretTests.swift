import BranchAuth
@testable import BranchCatalog
import BranchCore
@testable import BranchEngine
import Foundation
import Testing

@Suite("Project JWT secrets in the catalog, and the keys they sign")
struct ProjectJWTSecretTests {
    let scratch: ScratchDirectory
    let directory: String
    let catalog: Catalog

    init() throws {
        scratch = try ScratchDirectory("branch-secrets")
        directory = scratch.path
        catalog = try Catalog(path: "\(directory)/catalog.sqlite")
    }

    func name(_ raw: String) -> ResourceName { try! ResourceName(validating: raw) }

    func project(_ raw: String, state: ObjectState = .ready) -> ProjectRecord {
        ProjectRecord(
            name: name(raw), state: state, pgMajor: 15, role: raw, database: raw, password: "pw", verifier: "v",
            checkedOut: name("main"), createdAt: Date(timeIntervalSince1970: 1_800_000_000), operationID: nil)
    }

    func secret(_ text: String, at seconds: TimeInterval = 1_800_000_000) -> ProjectJWTSecret {
        ProjectJWTSecret(secret: text, issuedAt: Date(timeIntervalSince1970: seconds))
    }

    @Test("a project without a secret gets one once; a set secret round-trips")
    func missingSecrets() async throws {
        try await catalog.write { tx in
            try tx.insert(project("a"))
            try tx.insert(project("b"))
        }
        #expect(try await catalog.read { try $0.projectsWithoutJWTSecret() } == [name("a"), name("b")])
        #expect(try await catalog.write { try $0.setJWTSecretIfMissing(secret("first"), of: name("a")) })
        #expect(try await catalog.write { try $0.setJWTSecretIfMissing(secret("second"), of: name("a")) } == false)
        #expect(try await catalog.read { try $0.jwtSecret(of: name("a")) } == secret("first"))
        #expect(try await catalog.read { try $0.projectsWithoutJWTSecret() } == [name("b")])
        #expect(try await catalog.write { try $0.setJWTSecretIfMissing(secret("x"), of: name("none")) } == false)
    }

    @Test("the cached secret follows a rotation at once, and a record written back afterwards does not restore the old one")
    func rotation() async throws {
        let record = project("app")
        try await catalog.write { tx in
            try tx.insert(record)
            try tx.setJWTSecret(secret("old"), of: record.name)
        }
        #expect(try await catalog.jwtSecret(ofReady: record.name) == secret("old"))
        #expect(try await catalog.jwtSecret(ofReady: record.name) == secret("old"))  // from memory
        try await catalog.write { try $0.setJWTSecret(secret("new", at: 1_800_000_100), of: record.name) }
        #expect(try await catalog.jwtSecret(ofReady: record.name) == secret("new", at: 1_800_000_100))

        // A settings change made from a record read before the rotation.
        var stale = record
        stale.maxConnections = 50
        try await catalog.write { [stale] in try $0.update(stale) }
        #expect(try await catalog.jwtSecret(ofReady: record.name)?.secret == "new")
        #expect(try await catalog.project(record.name) == stale)
    }

    @Test("only ready projects' secrets are served to the data API")
    func readyOnly() async throws {
        try await catalog.write { tx in
            try tx.insert(project("app", state: .creating))
            try tx.setJWTSecret(secret("s"), of: name("app"))
        }
        #expect(try await catalog.jwtSecret(ofReady: name("app")) == nil)
        #expect(try await catalog.jwtSecret(ofReady: name("unknown")) == nil)
        var ready = project("app")
        ready.state = .ready
        try await catalog.write { [ready] in try $0.update(ready) }
        #expect(try await catalog.jwtSecret(ofReady: name("app")) == secret("s"))
        try await catalog.write { try $0.deleteProject(name("app")) }
        #expect(try await catalog.jwtSecret(ofReady: name("app")) == nil)
    }

    @Test("a secret read before a write ended is not cached after it")
    func cacheGenerations() {
        let cache = JWTSecretCache()
        let lookup = cache.lookup("app")
        #expect(lookup.secret == nil)
        cache.invalidate()
        cache.store(secret("stale"), for: "app", ifStill: lookup.generation)
        #expect(cache.lookup("app").secret == nil)
        let current = cache.lookup("app")
        cache.store(secret("fresh"), for: "app", ifStill: current.generation)
        #expect(cache.lookup("app").secret == secret("fresh"))
        cache.invalidate()
        #expect(cache.lookup("app").secret == nil)
    }

    @Test("a secret never shows in text")
    func noSecretInText() {
        let value = secret("hunter2-jwt-secret")
        var dumped = ""
        dump(value, to: &dumped)
        for text in ["\(value)", String(reflecting: value), dumped] { #expect(!text.contains("hunter2")) }
    }

    @Test("the keys verify with the project's secret, carry its name and role, and are the same for the same secret")
    func keys() throws {
        let stored = BranchEngine.ProjectKeys.newSecret()
        #expect(stored.issuedAt.timeIntervalSince1970 == stored.issuedAt.timeIntervalSince1970.rounded(.down))
        let keys = BranchEngine.ProjectKeys.apiKeys(name("app"), stored)
        #expect(keys.path == "/p/app")
        #expect(keys == BranchEngine.ProjectKeys.apiKeys(name("app"), stored))
        for (key, role) in [(keys.anonKey, "anon"), (keys.serviceRoleKey, "service_role")] {
            let claims = try JWT.verify(key, secret: BranchAuth.ProjectKeys.secretBytes(stored.secret))
            #expect(claims["role"] == .string(role))
            #expect(claims["ref"] == .string("app"))
            #expect(claims["iat"] == .integer(Int(stored.issuedAt.timeIntervalSince1970)))
            #expect(throws: JWTError.badSignature) { try JWT.verify(key, secret: BranchAuth.ProjectKeys.secretBytes(BranchEngine.ProjectKeys.newSecret().secret)) }
        }
        #expect(BranchEngine.ProjectKeys.apiKeys(name("app"), BranchEngine.ProjectKeys.newSecret()).anonKey != keys.anonKey)
    }

    @Test("one key re-issued: only that role's old key is refused; the other key, users' tokens and foreign tokens are not")
    func keyIssueTimes() async throws {
        try await catalog.write { tx in try tx.insert(project("app")) }
        try await catalog.write { tx in try tx.setJWTSecret(secret("s3cret-s3cret-s3cret-s3cret-s3cret"), of: name("app")) }
        let before = try #require(try await catalog.read { try $0.jwtSecret(of: name("app")) })
        let oldKeys = BranchEngine.ProjectKeys.apiKeys(name("app"), before)
        let bytes = BranchAuth.ProjectKeys.secretBytes(before.secret)
        func claims(_ token: String) throws -> [String: JSONValue] { try JWT.verify(token, secret: bytes, now: Date(timeIntervalSince1970: 1_800_000_200)) }

        try await catalog.write { tx in try tx.setKeyIssuedAt(Date(timeIntervalSince1970: 1_800_000_100), role: .anon, of: name("app")) }
        let after = try #require(try await catalog.read { try $0.jwtSecret(of: name("app")) })
        #expect(after.secret == before.secret && after.anonIssuedAt != nil && after.serviceRoleIssuedAt == nil)
        let current = BranchEngine.ProjectKeys.issueTimes(after)
        #expect(current == KeyIssueTimes(anon: 1_800_000_100, serviceRole: 1_800_000_000))
        let newKeys = BranchEngine.ProjectKeys.apiKeys(name("app"), after)
        #expect(newKeys.anonKey != oldKeys.anonKey && newKeys.serviceRoleKey == oldKeys.serviceRoleKey)
        #expect(!current.accepts(try claims(oldKeys.anonKey)))
        #expect(current.accepts(try claims(newKeys.anonKey)))
        #expect(current.accepts(try claims(oldKeys.serviceRoleKey)))
        // A user's access token (it has a `sub`) and a token from another issuer are not keys.
        #expect(current.accepts(["iss": "branch", "role": "anon", "iat": .integer(1), "sub": "u"]))
        #expect(current.accepts(["iss": "https://x.supabase.co/auth/v1", "role": "service_role", "iat": .integer(1)]))
        #expect(!current.accepts(["iss": "branch", "role": "service_role", "iat": .number(1.5)]))

        // A new secret starts every key afresh at its own time.
        try await catalog.write { tx in try tx.setJWTSecret(secret("another-secret-another-secret-xx", at: 1_900_000_000), of: name("app")) }
        let rotated = try #require(try await catalog.read { try $0.jwtSecret(of: name("app")) })
        #expect(rotated.anonIssuedAt == nil && BranchEngine.ProjectKeys.issueTimes(rotated) == KeyIssueTimes(both: rotated.issuedAt))
    }
}
