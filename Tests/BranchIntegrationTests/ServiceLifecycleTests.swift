import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

@Suite("Pool, service lifecycle and restarts", .serialized)
struct ServiceLifecycleTests {
    @Test("an empty directory gets a loop-mounted Btrfs image; the next start re-mounts it; data survives")
    func poolImage() async throws {
        try await TestEnvironment.with(poolSize: "768M", start: false) { env in
            try await env.startService()
            let log = Files.read(env.serviceLog) ?? ""
            #expect(log.contains("created a 768 MB sparse Btrfs image at \(env.image)"))
            #expect(log.contains("admin key bk_"))
            let keyMode = try FileManager.default.attributesOfItem(atPath: "\(env.pool)/admin.key")[.posixPermissions] as? Int
            #expect(keyMode == 0o600)
            let imageSize = try FileManager.default.attributesOfItem(atPath: env.image)[.size] as? Int
            #expect(imageSize == 768 << 20)

            try await env.linkedProject()
            try await env.psql(try await env.cli("url").output, "create table kept(v int); insert into kept values (42)")

            // Stop, unmount (as after a reboot), start again.
            await env.stopService()
            _ = try await Command.run("umount", [env.pool])
            #expect(try await env.subvolumes("projects").isEmpty)
            try await env.startService()
            #expect((Files.read(env.serviceLog) ?? "").contains("re-mounted the pool image \(env.image)"))
            // The key was printed once, at the first start only.
            #expect((Files.read(env.serviceLog) ?? "").components(separatedBy: "admin key bk_").count == 2)
            #expect(try await env.psql(try await env.cli("url").output, "select v from kept") == "42")
        }
    }

    @Test("SIGTERM while clients read a diff and an export slowly: the streams end and the service stops within seconds")
    func shutdownEndsStreams() async throws {
        try await TestEnvironment.with { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(id int primary key, v text); insert into t select i, repeat('x', 100) from generate_series(1, 100000) i")
            _ = try await env.json(BranchResult.self, "create", "b")
            try await env.psql(try await env.cli("url", "b").output, "update t set v = repeat('y', 100)")

            // Two clients that read 1 KB a second: the diff (20 MB of lines) and the export would take hours.
            let auth = "Authorization: Bearer \(env.token)"
            let diff = try Self.slowClient(["-X", "POST", "-H", auth, "-H", "Content-Type: application/json",
                "-d", #"{"from":"main","to":"b"}"#, "\(env.url)/api/v1/projects/app/diff"])
            let export = try Self.slowClient(["-H", auth, "\(env.url)/api/v1/projects/app/branches/main/export?format=sql"])
            defer {
                // SIGKILL: the service's closed sockets still drain to them at 1 KB/s.
                for client in [diff, export] {
                    kill(client.processIdentifier, SIGKILL)
                    client.waitUntilExit()
                }
            }
            try await Task.sleep(for: .seconds(2))
            #expect(diff.isRunning && export.isRunning, "both streams are still being read")

            let pid = try #require(env.servicePID)
            let started = ContinuousClock.now
            let status = await env.stopService(within: .seconds(30))
            #expect(status == 0, "the service stopped by itself, cleanly")
            #expect(ContinuousClock.now - started < .seconds(20), "stopping took \(ContinuousClock.now - started)")
            #expect(kill(pid, 0) != 0)
        }
    }

    /// curl reading a response at 1 KB/s into /dev/null, in the background.
    static func slowClient(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "-N", "--limit-rate", "1k", "-o", "/dev/null"] + arguments
        // Not the test's own output: a child holding it open would keep the test runner waiting.
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test("a non-empty directory that is not on Btrfs is refused, untouched")
    func refusesNonEmptyDirectory() async throws {
        try await TestEnvironment.with(start: false) { env in
            try Files.ensureDirectory(env.pool)
            try Files.writeAtomically("precious", to: "\(env.pool)/data.txt")
            let (status, log) = try await env.startServiceExpectingFailure()
            #expect(status != 0)
            #expect(log.contains("not on Btrfs and is not empty"))
            #expect(Files.read("\(env.pool)/data.txt") == "precious")
            #expect(!FileManager.default.fileExists(atPath: env.image))
        }
    }

    static func reservedPorts() -> [ClosedRange<Int>] {
        ReservedPorts.parse(Files.read(ReservedPorts.setting) ?? "")
    }

    @Test("SIGTERM stops every server cleanly; the next start brings back exactly those that were running; the port range is reserved meanwhile")
    func restart() async throws {
        try await TestEnvironment.with { env in
            try await env.linkedProject()
            _ = try await env.json(BranchResult.self, "create", "up")
            _ = try await env.json(BranchResult.self, "create", "down")
            _ = try await env.json(BranchResult.self, "stop", "down")
            #expect(await env.serverProcesses().count == 3)  // main, up, pgbouncer
            // While it runs, the kernel hands out no branch port as an ephemeral port (a suspended
            // branch's port must still be free when it resumes).
            #expect(Self.reservedPorts().contains(env.portRange))

            let status = await env.stopService()
            #expect(status == 0)
            #expect(!Self.reservedPorts().contains(env.portRange), "the range is released by a clean stop")
            #expect(await env.serverProcesses().isEmpty, "no Postgres or PgBouncer left after SIGTERM")
            // A clean shutdown: every data directory says so.
            for branch in ["main", "up", "down"] {
                let control = try await Command.run(
                    "/usr/lib/postgresql/15/bin/pg_controldata", ["\(env.pool)/projects/app/branches/\(branch)/pgdata"])
                #expect(control.stdout.contains("Database cluster state:               shut down"))
            }

            try await env.startService()
            let branches = try await env.json(BranchList.self, "list").branches
            let status2 = Dictionary(uniqueKeysWithValues: branches.map { ($0.name, $0.status) })
            #expect(status2 == ["main": "running", "up": "running", "down": "stopped"])
            #expect(try await env.psql(try await env.cli("url").output, "select 1") == "1")
            let serviceStatus = try await env.json(StatusResponse.self, "status")
            #expect(serviceStatus.runtime == "podman")
            #expect(serviceStatus.runtimeDetails.limitsEnforced)
            #expect(serviceStatus.pooler.running)
            #expect(serviceStatus.branchesRunning == 2)
            #expect(serviceStatus.pool.quotas)
        }
    }
}
