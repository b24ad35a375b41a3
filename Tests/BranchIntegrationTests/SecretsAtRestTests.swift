import BranchAPI
import BranchCatalog
import BranchSystem
import BranchTesting
import Foundation
import Testing

@Suite("Secrets at rest: sealed in the catalog under the master key, migrated at start, never in logs or process listings", .serialized)
struct SecretsAtRestTests {
    /// The secrets a project's creation made, as a user and the master key's holder can learn them.
    struct Secrets {
        let password: String
        let jwtSecret: String
        let webhookToken: String
        var all: [String] { [password, jwtSecret, webhookToken] }
    }

    /// One catalog value, read by sqlite3 as anyone holding a copy of the pool could.
    static func column(_ env: TestEnvironment, _ sql: String) async throws -> String {
        let result = try await Command.run("sqlite3", ["-cmd", ".timeout 5000", "\(env.pool)/catalog.sqlite", sql])
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func sqlite(_ env: TestEnvironment, _ sql: String) async throws {
        _ = try await Command.run("sqlite3", ["-cmd", ".timeout 5000", "\(env.pool)/catalog.sqlite", sql])
    }

    /// Whether any of the catalog's files (the database, and a WAL or journal beside it) holds `text`.
    static func catalogFilesContain(_ env: TestEnvironment, _ text: String) -> Bool {
        ["", "-wal", "-journal", "-shm"].contains { suffix in
            FileManager.default.contents(atPath: "\(env.pool)/catalog.sqlite\(suffix)")?.range(of: Data(text.utf8)) != nil
        }
    }

    /// Every log the service and the servers it runs write: the service's own, branch servers' and PgBouncer's.
    static func logs(_ env: TestEnvironment) -> [(path: String, data: Data)] {
        var paths = [env.serviceLog]
        for directory in ["\(env.pool)/logs", "\(env.pool)/run"] {
            let walker = FileManager.default.enumerator(atPath: directory)
            while let relative = walker?.nextObject() as? String {
                let path = "\(directory)/\(relative)"
                let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
                if type == .typeRegular, !relative.hasSuffix("users.txt") { paths.append(path) }
            }
        }
        return paths.compactMap { path in FileManager.default.contents(atPath: path).map { (path, $0) } }
    }

    /// Command lines and environments of every process on the machine (`ps -eo args` and /proc/*/environ).
    static func processListings() async throws -> String {
        var text = try await Command.run("ps", ["-eo", "args"]).stdout
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int32(entry) != nil {
            if let environment = FileManager.default.contents(atPath: "/proc/\(entry)/environ") {
                text += String(decoding: environment.map { $0 == 0 ? 0x0A : $0 }, as: UTF8.self)
            }
        }
        return text
    }

    /// What every command that shows or lists (rather than creates or reveals) prints with `--json`.
    static func jsonOutputs(_ env: TestEnvironment) async throws -> String {
        var text = ""
        for command in [
            ["project", "list"], ["project", "show", "app"], ["branch", "list"], ["snapshot", "list"], ["schedule", "show"],
            ["status"], ["audit"], ["token", "list"], ["user", "list"], ["backup", "list"],
        ] {
            let result = try await env.cli(command + ["--json"])
            text += result.stdout + result.stderr
        }
        return text
    }

    /// Checks that no secret is in the catalog's files in plain text, in a log, a process listing or
    /// the `--json` output of a command that shows or lists.
    static func expectNowhere(_ secrets: Secrets, _ env: TestEnvironment, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let listings = try await processListings()
        let outputs = try await jsonOutputs(env)
        #expect(outputs.contains("hooks.example.invalid/…"), "the schedule shows its webhook's host", sourceLocation: sourceLocation)
        for (index, secret) in secrets.all.enumerated() {
            let which = ["password", "JWT secret", "webhook URL"][index]
            #expect(!catalogFilesContain(env, secret), "the \(which) is in the catalog's files", sourceLocation: sourceLocation)
            for (path, data) in logs(env) where data.range(of: Data(secret.utf8)) != nil {
                Issue.record("the \(which) is in \(path)", sourceLocation: sourceLocation)
            }
            #expect(!listings.contains(secret), "the \(which) is in a process listing", sourceLocation: sourceLocation)
            #expect(!outputs.contains(secret), "the \(which) is in a command's --json output", sourceLocation: sourceLocation)
        }
    }

    /// The sealed columns all start with the versioned prefix.
    static func expectSealed(_ env: TestEnvironment, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for sql in [
            "SELECT password FROM project WHERE name = 'app'", "SELECT jwt_secret FROM project WHERE name = 'app'",
            "SELECT webhook_url FROM schedule WHERE project = 'app'", "SELECT value FROM setting WHERE key = 'pooler.admin_password'",
        ] {
            let value = try await column(env, sql)
            #expect(value.hasPrefix(SecretBox.prefix), "\(sql): \(value.prefix(12))…", sourceLocation: sourceLocation)
        }
        // The verifier stays as PgBouncer's auth file needs it; it does not give the password away.
        #expect(try await column(env, "SELECT verifier FROM project WHERE name = 'app'").hasPrefix("SCRAM-SHA-256$"), sourceLocation: sourceLocation)
    }

    /// The project still works: psql with its password through the pooler and directly, and the
    /// data API with its service_role key (and not with a made-up one).
    static func expectWorking(_ env: TestEnvironment, url: String, serviceKey: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await env.psql(url, "select x from t") == "42", sourceLocation: sourceLocation)
        #expect(try await env.psql(try await env.cli("url", "main").output, "select x from t") == "42", sourceLocation: sourceLocation)
        let rest = "\(env.url)/p/app/rest/v1/t?select=x"
        let ok = try await APIAndCLITests.curl(["-H", "apikey: \(serviceKey)", rest])
        #expect(ok.status == 200 && ok.body.contains("42"), "\(ok)", sourceLocation: sourceLocation)
        let forged = try await APIAndCLITests.curl(["-H", "apikey: \(serviceKey.dropLast(4))AAAA", rest])
        #expect(forged.status == 401, "\(forged)", sourceLocation: sourceLocation)
    }

    /// Makes project `app` with a table, and a backup schedule with a webhook; returns its secrets
    /// (the JWT secret opened with the environment's master key, as only its holder can).
    static func makeProject(_ env: TestEnvironment) async throws -> (Secrets, ProjectCreated) {
        let created = try await env.json(ProjectCreated.self, "project", "create", "app")
        try await env.cli(["link", "app"]).requireSuccess()
        try await env.psql(created.connection.url, "create table t(x int primary key); insert into t values (42)")
        let token = "tok" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        _ = try await env.json(
            ScheduleInfo.self, "schedule", "set", "backup", "--cron", "0 3 * * *", "--webhook", "https://hooks.example.invalid/services/\(token)")
        let masterKey = try MasterKey(base64: try #require(Files.read(env.masterKeyFile)))
        let sealed = try await column(env, "SELECT jwt_secret FROM project WHERE name = 'app'")
        let jwtSecret = try SecretBox(masterKey: masterKey).open(sealed, purpose: "project.jwt_secret")
        #expect(jwtSecret.count >= 32 && jwtSecret != sealed)
        return (Secrets(password: created.connection.password, jwtSecret: jwtSecret, webhookToken: token), created)
    }

    @Test("a new project's secrets are sealed in the catalog, printed nowhere, and work after a restart")
    func sealedAndWorking() async throws {
        try await TestEnvironment.with(backups: true) { env in
            // The first start made the environment's master key: 0600, base64 of 32 bytes.
            #expect(try FileManager.default.attributesOfItem(atPath: env.masterKeyFile)[.posixPermissions] as? Int == 0o600)
            #expect(Data(base64Encoded: (Files.read(env.masterKeyFile) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))?.count == 32)

            let (secrets, created) = try await Self.makeProject(env)
            try await Self.expectSealed(env)
            try await Self.expectNowhere(secrets, env)
            // The one response that creates the password shows it; a failing request does not.
            let failing = try await env.cli("project", "create", "app", "--json")
            #expect(!failing.succeeded && !failing.stdout.contains(secrets.password) && !failing.stderr.contains(secrets.password))

            await env.stopService()
            try await env.startService()
            try await Self.expectWorking(env, url: created.connection.url, serviceKey: created.keys.serviceRoleKey)
            #expect(try await env.json(KeysTests.PrintedKeys.self, "keys").serviceRoleKey == created.keys.serviceRoleKey)
            try await Self.expectNowhere(secrets, env)
        }
    }

    @Test("a catalog with plain-text secrets (from before they were sealed) is sealed at start and keeps working")
    func migratesPlainCatalog() async throws {
        try await TestEnvironment.with(backups: true) { env in
            let (secrets, created) = try await Self.makeProject(env)
            await env.stopService()

            // As an older version left it: every secret in plain text, no key fingerprint.
            try await Self.sqlite(env, """
                UPDATE project SET password = '\(secrets.password)', jwt_secret = '\(secrets.jwtSecret)' WHERE name = 'app';
                UPDATE schedule SET webhook_url = 'https://hooks.example.invalid/services/\(secrets.webhookToken)' WHERE project = 'app';
                DELETE FROM setting WHERE key = 'secrets.master_key_id';
                """)
            #expect(Self.catalogFilesContain(env, secrets.password))

            try await env.startService()
            try await Self.expectSealed(env)
            #expect((Files.read(env.serviceLog) ?? "").contains("sealed plain-text secrets in the catalog"))
            try await Self.expectWorking(env, url: created.connection.url, serviceKey: created.keys.serviceRoleKey)
            let schedule = try await env.json(ScheduleList.self, "schedule", "show").schedules.first { $0.kind == "backup" }
            // Shown as its host only; kept whole, sealed.
            #expect(schedule?.webhookURL == "https://hooks.example.invalid/…")
            let masterKey = try MasterKey(base64: try #require(Files.read(env.masterKeyFile)))
            let webhook = try SecretBox(masterKey: masterKey).open(
                try await Self.column(env, "SELECT webhook_url FROM schedule WHERE project = 'app' AND kind = 'backup'"), purpose: "schedule.webhook_url")
            #expect(webhook == "https://hooks.example.invalid/services/\(secrets.webhookToken)")
            try await Self.expectNowhere(secrets, env)

            // Idempotent: the next start seals nothing more and changes nothing.
            let sealed = try await Self.column(env, "SELECT password FROM project WHERE name = 'app'")
            await env.stopService()
            let before = (Files.read(env.serviceLog) ?? "").components(separatedBy: "sealed plain-text secrets").count
            try await env.startService()
            #expect(try await Self.column(env, "SELECT password FROM project WHERE name = 'app'") == sealed)
            #expect((Files.read(env.serviceLog) ?? "").components(separatedBy: "sealed plain-text secrets").count == before)
            try await Self.expectWorking(env, url: created.connection.url, serviceKey: created.keys.serviceRoleKey)
        }
    }

    @Test("another master key, a lost one, or one readable by others stops the start with a stable code and changes nothing")
    func wrongMasterKey() async throws {
        try await TestEnvironment.with { env in
            let created = try await env.json(ProjectCreated.self, "project", "create", "app")
            let original = try #require(Files.read(env.masterKeyFile))
            let sealed = try await Self.column(env, "SELECT password FROM project WHERE name = 'app'")
            await env.stopService()

            // Another key.
            try Files.writeAtomically(TestEnvironment.newBackupKey() + "\n", to: env.masterKeyFile, mode: 0o600)
            var (status, log) = try await env.startServiceExpectingFailure()
            #expect(status != 0)
            #expect(log.contains("[master_key_mismatch]"), "\(log.suffix(600))")
            #expect(log.contains("--master-key-file"))
            #expect(!log.contains(created.connection.password))

            // No key file at all: the start makes none that sticks, and says the catalog needs the old one.
            try FileManager.default.removeItem(atPath: env.masterKeyFile)
            (status, log) = try await env.startServiceExpectingFailure()
            #expect(status != 0)
            #expect(log.components(separatedBy: "[master_key_mismatch]").count == 3)
            #expect(log.contains("no master key file at \(env.masterKeyFile)"))
            #expect(!FileManager.default.fileExists(atPath: env.masterKeyFile))

            // The right key, readable by others: refused until `chmod 600`.
            try Files.writeAtomically(original, to: env.masterKeyFile, mode: 0o644)
            chmod(env.masterKeyFile, 0o644)
            (status, log) = try await env.startServiceExpectingFailure()
            #expect(status != 0)
            #expect(log.contains("[master_key_invalid]") && log.contains("chmod 600 \(env.masterKeyFile)"))

            #expect(try await Self.column(env, "SELECT password FROM project WHERE name = 'app'") == sealed)
            chmod(env.masterKeyFile, 0o600)
            try await env.startService()
            #expect(try await env.psql(created.connection.url, "select 1") == "1")
        }
    }
}

extension CLIResult {
    func requireSuccess() throws {
        guard succeeded else { throw TestFailure("the command failed (\(status)): \(stderr)") }
    }
}
