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

            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            _ = try await env.cli("link", "app")
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
            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            _ = try await env.cli("link", "app")
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
