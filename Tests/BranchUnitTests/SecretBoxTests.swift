@testable import BranchCatalog
import BranchCore
import BranchSystem
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Secrets sealed in the catalog under the master key")
struct SecretBoxTests {
    let scratch: ScratchDirectory
    let directory: String

    init() throws {
        scratch = try ScratchDirectory("branch-secretbox")
        directory = scratch.path
    }

    func name(_ raw: String) -> ResourceName { try! ResourceName(validating: raw) }

    func project(_ raw: String, password: String) -> ProjectRecord {
        ProjectRecord(
            name: name(raw), state: .ready, pgMajor: 16, role: raw, database: raw, password: password, verifier: "SCRAM-SHA-256$4096:v",
            checkedOut: name("main"), createdAt: Date(timeIntervalSince1970: 1_800_000_000), operationID: nil)
    }

    func expectCode(_ code: ErrorCode, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected \(code), nothing was thrown", sourceLocation: sourceLocation)
        } catch let error as CatalogError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
        }
    }

    /// Runs sqlite3 on the catalog file, as someone holding a copy of the pool would.
    func sqlite(_ path: String, _ sql: String) async throws -> String {
        try await Command.run("sqlite3", [path, sql]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
    }

    func fileContains(_ path: String, _ text: String) -> Bool {
        let bytes = FileManager.default.contents(atPath: path) ?? Data()
        return bytes.range(of: Data(text.utf8)) != nil
    }

    // MARK: The box

    @Test("a sealed value has the versioned prefix, a fresh nonce each time, and opens to the plaintext")
    func roundTrip() throws {
        let box = SecretBox.ephemeral()
        let first = box.seal("s3cret-password", purpose: "project.password")
        let second = box.seal("s3cret-password", purpose: "project.password")
        #expect(first.hasPrefix("enc:v1:"))
        #expect(first != second)
        #expect(!first.contains("s3cret"))
        #expect(SecretBox.isSealed(first))
        #expect(try box.open(first, purpose: "project.password") == "s3cret-password")
        #expect(try box.open(box.seal("", purpose: "p"), purpose: "p") == "")
        #expect(try box.open(box.seal("ünïcødé ✓", purpose: "p"), purpose: "p") == "ünïcødé ✓")
    }

    @Test("a plain old value is told apart and returned as it is; sealIfPlain seals it once")
    func plainValues() throws {
        let box = SecretBox.ephemeral()
        #expect(!SecretBox.isSealed("plain"))
        #expect(try box.open("plain", purpose: "p") == "plain")
        let sealed = try #require(box.sealIfPlain("plain", purpose: "p"))
        #expect(SecretBox.isSealed(sealed))
        #expect(box.sealIfPlain(sealed, purpose: "p") == sealed)
        #expect(box.sealIfPlain(nil, purpose: "p") == nil)
    }

    @Test("another key, another purpose, an altered value or an unknown version does not open: master_key_mismatch")
    func refusals() throws {
        let box = SecretBox.ephemeral()
        let sealed = box.seal("value", purpose: "project.password")
        expectCode(.masterKeyMismatch) { _ = try SecretBox.ephemeral().open(sealed, purpose: "project.password") }
        expectCode(.masterKeyMismatch) { _ = try box.open(sealed, purpose: "project.jwt_secret") }
        var altered = Array(sealed)
        altered[sealed.count - 3] = altered[sealed.count - 3] == "A" ? "B" : "A"
        expectCode(.masterKeyMismatch) { _ = try box.open(String(altered), purpose: "project.password") }
        expectCode(.masterKeyMismatch) { _ = try box.open("enc:v1:not base64!", purpose: "project.password") }
        expectCode(.masterKeyMismatch) { _ = try box.open("enc:v1:", purpose: "project.password") }
        expectCode(.masterKeyMismatch) { _ = try box.open("enc:v9:AAAA", purpose: "project.password") }
    }

    @Test("the same master key gives the same box; its id is a fingerprint, never the key")
    func keys() throws {
        let key = MasterKey.generate()
        let again = try MasterKey(base64: "  \(key.base64)\n")
        #expect(again.id == key.id)
        #expect(key.id.count == 16)
        let sealed = SecretBox(masterKey: key).seal("x", purpose: "p")
        #expect(try SecretBox(masterKey: again).open(sealed, purpose: "p") == "x")
        #expect(MasterKey.generate().id != key.id)
        for text in ["\(key)", String(reflecting: key), "\(SecretBox(masterKey: key))"] {
            #expect(!text.contains(key.base64))
        }
        var dumped = ""
        dump(key, to: &dumped)
        #expect(!dumped.contains(key.base64))
        expectCode(.masterKeyInvalid) { _ = try MasterKey(base64: "not base64") }
        expectCode(.masterKeyInvalid) { _ = try MasterKey(base64: Data(count: 16).base64EncodedString()) }
    }

    // MARK: The key file

    @Test("the key file is made once (0600, in a new 0700 directory) and read back after")
    func keyFile() throws {
        let path = "\(directory)/etc/branch/master.key"
        let (made, created) = try MasterKey.loadOrCreate(path: path)
        #expect(created)
        #expect(mode(path) == 0o600)
        #expect(mode("\(directory)/etc/branch") == 0o700)
        let (read, createdAgain) = try MasterKey.loadOrCreate(path: path)
        #expect(!createdAgain)
        #expect(read.id == made.id)
        #expect((try FileManager.default.contentsOfDirectory(atPath: "\(directory)/etc/branch")) == ["master.key"])
    }

    @Test("a key file readable by others, damaged, or not a file is refused with master_key_invalid")
    func badKeyFiles() throws {
        let path = "\(directory)/master.key"
        _ = try MasterKey.loadOrCreate(path: path)
        chmod(path, 0o644)
        expectCode(.masterKeyInvalid) { _ = try MasterKey.loadOrCreate(path: path) }
        do {
            _ = try MasterKey.loadOrCreate(path: path)
        } catch {
            #expect(error.hint?.contains("chmod 600") == true)
        }
        try Files.writeAtomically("short\n", to: path, mode: 0o600)
        expectCode(.masterKeyInvalid) { _ = try MasterKey.loadOrCreate(path: path) }
        expectCode(.masterKeyInvalid) { _ = try MasterKey.loadOrCreate(path: directory) }
    }

    // MARK: The catalog

    @Test("the catalog stores passwords, JWT secrets, webhook URLs and secret settings sealed, and gives them back plain")
    func catalogSeals() async throws {
        let path = "\(directory)/catalog.sqlite"
        let key = MasterKey.generate()
        let catalog = try Catalog(path: path, secrets: SecretBox(masterKey: key))
        try await catalog.write { tx in
            try tx.insert(project("app", password: "pw-Aa1-plain-password"))
            try tx.setJWTSecret(ProjectJWTSecret(secret: "jwt-Zz9-plain-secret", issuedAt: Date()), of: name("app"))
            try tx.save(
                ScheduleRecord(
                    project: name("app"), kind: .backup, expression: "@every 1h", enabled: true, keepLast: 1, hourly: 0, daily: 0,
                    weekly: 0, monthly: 0, lastRunAt: nil, webhookURL: "https://hooks.example/T0/B0/tok-Qq7", webhookSlack: true))
            try tx.setSetting("pooler.admin_password", "pooler-Pp5-password")
            try tx.setSetting("some.plain", "visible")
        }
        #expect(try await catalog.project(name("app"))?.password == "pw-Aa1-plain-password")
        #expect(try await catalog.read { try $0.jwtSecret(of: self.name("app"))?.secret } == "jwt-Zz9-plain-secret")
        #expect(try await catalog.read { try $0.schedule(self.name("app"), .backup)?.webhookURL } == "https://hooks.example/T0/B0/tok-Qq7")
        #expect(try await catalog.setting("pooler.admin_password") == "pooler-Pp5-password")
        #expect(try await catalog.setting("some.plain") == "visible")

        for column in ["SELECT password FROM project", "SELECT jwt_secret FROM project", "SELECT webhook_url FROM schedule",
                       "SELECT value FROM setting WHERE key = 'pooler.admin_password'"] {
            #expect(try await sqlite(path, column).hasPrefix("enc:v1:"), "\(column)")
        }
        #expect(try await sqlite(path, "SELECT verifier FROM project") == "SCRAM-SHA-256$4096:v")
        #expect(try await sqlite(path, "SELECT value FROM setting WHERE key = 'secrets.master_key_id'") == key.id)
        for secret in ["pw-Aa1", "jwt-Zz9", "tok-Qq7", "pooler-Pp5"] {
            #expect(!fileContains(path, secret), "\(secret) is in the catalog file")
        }
    }

    @Test("plain values of an older catalog are sealed at open, in place and once; they read the same")
    func migration() async throws {
        let path = "\(directory)/catalog.sqlite"
        let key = MasterKey.generate()
        do {
            let catalog = try Catalog(path: path, secrets: SecretBox(masterKey: key))
            try await catalog.write { tx in
                try tx.insert(self.project("app", password: "sealed-later"))
                try tx.setSetting("pooler.admin_password", "pooler-old")
            }
        }
        // As an older version wrote them: plain text, and no key fingerprint yet.
        _ = try await sqlite(path, """
            UPDATE project SET password = 'old-Mm3-password', jwt_secret = 'old-Jj4-secret', jwt_issued_at = '2026-01-01 00:00:00.000';
            UPDATE setting SET value = 'old-Pp6-pooler' WHERE key = 'pooler.admin_password';
            DELETE FROM setting WHERE key = 'secrets.master_key_id';
            """)
        let reopened = try Catalog(path: path, secrets: SecretBox(masterKey: key))
        #expect(reopened.sealedAtOpen == 3)
        #expect(try await reopened.project(name("app"))?.password == "old-Mm3-password")
        #expect(try await reopened.read { try $0.jwtSecret(of: self.name("app"))?.secret } == "old-Jj4-secret")
        #expect(try await reopened.setting("pooler.admin_password") == "old-Pp6-pooler")
        #expect(try await sqlite(path, "SELECT password FROM project").hasPrefix("enc:v1:"))
        for secret in ["old-Mm3", "old-Jj4", "old-Pp6"] { #expect(!fileContains(path, secret), "\(secret) is in the catalog file") }

        let sealedOnce = try await sqlite(path, "SELECT password FROM project")
        let third = try Catalog(path: path, secrets: SecretBox(masterKey: key))
        #expect(third.sealedAtOpen == 0)
        #expect(try await sqlite(path, "SELECT password FROM project") == sealedOnce)
    }

    @Test("a catalog sealed with another master key is refused at open, whether its fingerprint is there or not")
    func wrongKey() async throws {
        let path = "\(directory)/catalog.sqlite"
        do {
            let catalog = try Catalog(path: path, secrets: SecretBox(masterKey: .generate()))
            try await catalog.write { try $0.insert(self.project("app", password: "pw")) }
        }
        expectCode(.masterKeyMismatch) { _ = try Catalog(path: path, secrets: SecretBox(masterKey: .generate())) }
        _ = try await sqlite(path, "DELETE FROM setting WHERE key = 'secrets.master_key_id'")
        expectCode(.masterKeyMismatch) { _ = try Catalog(path: path, secrets: SecretBox(masterKey: .generate())) }
    }
}
