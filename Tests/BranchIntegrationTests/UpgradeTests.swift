import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Self-update on a real service, without systemd (the re-exec path), from a copy of the binary
/// under test installed in the environment: signed releases are made with a test key put in the
/// environment's `release-keys` directory (beside its master key).
@Suite("Self-update: signed releases, atomic swap, health check and rollback", .serialized)
struct UpgradeTests {
    struct VersionReport: Decodable {
        struct Service: Decodable {
            struct Last: Decodable {
                let phase: String
                let from: String
                let to: String
                let manual: Bool
                let detail: String?
            }
            let version: String
            let binary: String
            let previousVersion: String?
            let previousBinary: String?
            let lastUpgrade: Last?
        }
        let service: Service?
    }

    @Test("refused releases change nothing; an upgrade keeps branch servers running; --rollback goes back; a binary that exits at start is rolled back")
    func upgradeJourney() async throws {
        try await TestEnvironment.with(start: false) { env in
            let installed = "\(env.root)/bin/branch"
            try Files.ensureDirectory("\(env.root)/bin", mode: 0o755)
            try AtomicSwap.copy(TestEnvironment.binary, to: installed, mode: 0o755)
            env.serviceBinary = installed
            // The signing key, and its public half where the service trusts release keys.
            let key = "\(env.root)/release.key"
            #expect(try await env.cli(["release", "keygen", "--out", key]).succeeded)
            try Files.ensureDirectory("\(env.root)/release-keys", mode: 0o755)
            try Files.writeAtomically(Files.read("\(key).pub") ?? "", to: "\(env.root)/release-keys/test.pub", mode: 0o644)

            try await env.startService()
            let main = try await env.linkedProject()
            try await env.psql(main, "create table kept(v int); insert into kept values (42)")
            #expect(try await env.cli("create", "feat").succeeded)
            let servers = await env.serverProcesses()
            #expect(servers.count == 3)  // main, feat, pgbouncer
            let servicePID = try #require(env.servicePID)
            let binaryBefore = try await digest(installed)

            // 1. A release signed with a key the service does not trust is refused; nothing changes.
            let otherKey = "\(env.root)/other.key"
            #expect(try await env.cli(["release", "keygen", "--out", otherKey]).succeeded)
            let unsigned = try await pack(env, binary: TestEnvironment.binary, version: "99.0.0", key: otherKey, name: "untrusted")
            #expect(try await env.errorCode("upgrade", "--from", unsigned) == "release_invalid")
            // A correctly signed binary that does not even run is refused before anything changes too.
            let broken = try script(env, "broken", "#!/bin/sh\nexit 1\n")
            let brokenRelease = try await pack(env, binary: broken, version: "99.0.0", key: key, name: "broken")
            #expect(try await env.errorCode("upgrade", "--from", brokenRelease) == "release_invalid")
            // And so is an archive whose manifest was changed after signing.
            let tampered = try await tamper(env, try await pack(env, binary: TestEnvironment.binary, version: "99.0.0", key: key, name: "tampered"))
            #expect(try await env.errorCode("upgrade", "--from", tampered) == "release_invalid")
            #expect(try await digest(installed) == binaryBefore)
            #expect(!Files.exists("\(installed).previous"))
            #expect(!Files.exists("\(env.pool)/upgrade"), "no catalog backup, no upgrade state")
            #expect(try await health(env) == "0.1.0")

            // 2. The upgrade: same service process (re-exec), same branch servers, the new version.
            let release = try await pack(env, binary: TestEnvironment.binary, version: "99.0.0", key: key, name: "v99")
            let upgraded = try await env.cli(["upgrade", "--from", release])
            #expect(upgraded.succeeded, "\(upgraded.stderr)")
            #expect(try await health(env) == "99.0.0")
            #expect(env.servicePID == servicePID && kill(servicePID, 0) == 0, "re-exec keeps the pid")
            #expect(await env.serverProcesses() == servers, "branch servers and the pooler kept running")
            #expect(try await env.psql(main, "select v from kept") == "42")
            var version = try await env.json(VersionReport.self, "version")
            #expect(version.service?.version == "99.0.0")
            #expect(version.service?.binary == installed)
            #expect(version.service?.previousVersion == "0.1.0")
            #expect(version.service?.previousBinary == "\(installed).previous")
            #expect(version.service?.lastUpgrade?.phase == "succeeded")
            let human = try await env.cli("version")
            #expect(human.stdout.contains("99.0.0") && human.stdout.contains("0.1.0"))
            // The new service reports the outcome once it has read the watchdog's verdict (checked each second).
            #expect(try await eventually { try await alerts(env).contains { $0.contains("Upgrade to 99.0.0 succeeded") } })
            // Not newer than what runs: refused.
            #expect(try await env.errorCode("upgrade", "--from", release) == "release_not_newer")

            // 3. Back by hand.
            let back = try await env.cli(["upgrade", "--rollback"])
            #expect(back.succeeded, "\(back.stderr)")
            #expect(try await health(env) == "0.1.0")
            version = try await env.json(VersionReport.self, "version")
            #expect(version.service?.previousVersion == "99.0.0")
            #expect(version.service?.lastUpgrade?.manual == true)
            #expect(await env.serverProcesses() == servers)

            // 4. A release whose binary answers `version` but exits when it should serve: the
            // watchdog puts the previous binary and catalog back and starts the service again.
            let exits = try script(env, "exits", "#!/bin/sh\nif [ \"$1\" = version ]; then echo '{\"version\":\"100.0.0\"}'; exit 0; fi\nexit 1\n")
            let failing = try await pack(env, binary: exits, version: "100.0.0", key: key, name: "v100")
            let failed = try await env.cli(["upgrade", "--from", failing, "--json"])
            #expect(!failed.succeeded)
            #expect(failed.stdout.contains("upgrade_rolled_back"), "\(failed.stdout)\n\(failed.stderr)")
            #expect(try await health(env) == "0.1.0")
            #expect(env.servicesStartedElsewhere().count == 1, "the watchdog started the service again")
            version = try await env.json(VersionReport.self, "version")
            #expect(version.service?.lastUpgrade?.phase == "rolled_back")
            #expect(version.service?.previousVersion == "99.0.0", "the binary that failed is set aside, not offered to --rollback")
            #expect(Files.exists("\(installed).failed"))
            #expect(try await digest(installed) == binaryBefore)
            #expect(await env.serverProcesses() == servers, "branch servers kept running through the failed upgrade")
            #expect(try await env.psql(main, "select v from kept") == "42")
            #expect(try await eventually { try await alerts(env).contains { $0.contains("Upgrade to 100.0.0 failed and was rolled back") } })
        }
    }

    struct PostgresUpgrade: Decodable {
        struct Restart: Decodable {
            let project: String
            let branch: String
            let from: String?
            let to: String?
            let paused: Bool
        }
        let postgres: String
        let branches: [Restart]
    }

    @Test("upgrade postgres restarts each running branch server, one at a time; pgbench through the pooler meanwhile: 0 failed transactions")
    func postgresMinorUpdate() async throws {
        try await TestEnvironment.with { env in
            let pooled = try await env.linkedProject()
            #expect(try await env.cli("create", "feat").succeeded)
            try await Command.run("pgbench", ["-i", "-s", "1", "-q", pooled])
            let before = [await env.postmasterPID(project: "app", branch: "main"), await env.postmasterPID(project: "app", branch: "feat")]
            // A new connection per transaction (-C): session pooling hands each one a server
            // connection, and those opened while a server restarts wait at PgBouncer.
            async let bench = Command.run("pgbench", ["-C", "-n", "-c", "4", "-j", "2", "-T", "12", pooled], check: false)
            try await Task.sleep(for: .seconds(3))
            let upgrade = try await env.json(PostgresUpgrade.self, "upgrade", "postgres")
            let result = try await bench
            #expect(result.succeeded, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("number of failed transactions: 0"), "\(result.stdout)")
            let processed = result.stdout.split(separator: "\n").first { $0.hasPrefix("number of transactions actually processed:") }
            #expect((processed?.split(separator: " ").last.flatMap { Int($0) } ?? 0) > 0, "\(result.stdout)")
            #expect(Set(upgrade.branches.map(\.branch)) == ["main", "feat"])
            #expect(upgrade.branches.allSatisfy { $0.paused && $0.from == upgrade.postgres && $0.to == upgrade.postgres })
            let after = [await env.postmasterPID(project: "app", branch: "main"), await env.postmasterPID(project: "app", branch: "feat")]
            #expect(zip(before, after).allSatisfy { $0 != nil && $1 != nil && $0 != $1 }, "every server was restarted")
            #expect(try await env.psql(pooled, "select count(*) from pgbench_branches") == "1")
        }
    }

    // MARK: Helpers

    private func pack(_ env: TestEnvironment, binary: String, version: String, key: String, name: String) async throws -> String {
        let out = "\(env.root)/\(name).tar"
        let result = try await env.cli(["release", "pack", "--binary", binary, "--version", version, "--key", key, "--out", out])
        guard result.succeeded else { throw TestFailure("release pack failed: \(result.stderr)") }
        return out
    }

    private func script(_ env: TestEnvironment, _ name: String, _ text: String) throws -> String {
        let path = "\(env.root)/\(name).sh"
        try Files.writeAtomically(text, to: path, mode: 0o755)
        return path
    }

    /// The same archive with one byte of its manifest changed (its version), signature kept.
    private func tamper(_ env: TestEnvironment, _ archive: String) async throws -> String {
        let directory = "\(env.root)/tampered"
        try Files.ensureDirectory(directory, mode: 0o755)
        try await Command.run("tar", ["-xf", archive, "-C", directory])
        let manifest = (Files.read("\(directory)/manifest.json") ?? "").replacingOccurrences(of: "99.0.0", with: "99.0.1")
        try Files.writeAtomically(manifest, to: "\(directory)/manifest.json")
        let out = "\(env.root)/tampered.tar"
        try await Command.run("tar", ["-cf", out, "-C", directory, "branch", "manifest.json", "manifest.sig"])
        return out
    }

    private func digest(_ path: String) async throws -> String {
        String(try await Command.run("sha256sum", [path]).stdout.prefix(64))
    }

    private func health(_ env: TestEnvironment) async throws -> String {
        struct Health: Decodable { let version: String }
        let result = try await Command.run("curl", ["-fsS", "--max-time", "5", "\(env.url)/api/v1/health"])
        return try JSONDecoder().decode(Health.self, from: Data(result.stdout.utf8)).version
    }

    /// The instance's event log lines (alerts are kept there).
    /// Whether `condition` holds within `limit`, asked every half second.
    private func eventually(within limit: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(500))
        }
        return try await condition()
    }

    private func alerts(_ env: TestEnvironment) async throws -> [String] {
        let result = try await Command.run("curl", ["-fsS", "-H", "Authorization: Bearer \(env.token)", "\(env.url)/api/v1/events?limit=50"])
        return result.stdout.components(separatedBy: "},{")
    }
}
