import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Bad input: clear errors with stable codes, nothing half made", .serialized)
struct BadInputTests {
    /// The API error for a request, straight from the HTTP API.
    static func apiError(_ env: TestEnvironment, _ method: String, _ path: String, body: String? = nil) async throws -> (Int, Components.Schemas.ErrorBody) {
        var arguments = ["-sS", "-X", method, "-H", "Authorization: Bearer \(env.token)", "-w", "\n%{http_code}", env.url + path]
        if body != nil { arguments += ["-H", "Content-Type: application/json", "--data-binary", "@-"] }
        let result = try await Command.run("curl", arguments, input: body)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        let error = try JSONDecoder.api.decode(Components.Schemas.ErrorBody.self, from: Data(lines.dropLast().joined(separator: "\n").utf8))
        return (status, error)
    }

    @Test("invalid names, unknown and duplicate objects")
    func names() async throws {
        try await TestEnvironment.with { env in
            for bad in ["Bad_Name", "..", "a%2Fb", String(repeating: "x", count: 64), "-x", "pgbouncer"] {
                let (status, error) = try await Self.apiError(env, "POST", "/api/v1/projects", body: #"{"name":"\#(bad)"}"#)
                #expect(status == 400, "\(bad)")
                #expect(error.error.code == "invalid_name", "\(bad)")
            }
            let cli = try await env.failure("project", "create", "My_App")
            // For people: an `error:` line and a `hint:` line; for scripts, the code with --json.
            #expect(cli.stderr.hasPrefix("error: ") && cli.stderr.contains("\nhint: "))
            #expect(try await env.errorCode("project", "create", "My_App") == "invalid_name")
            #expect(try await env.json(ProjectList.self, "project", "list").projects.isEmpty)
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: "\(env.pool)/projects")) ?? []).isEmpty)

            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            var (status, error) = try await Self.apiError(env, "POST", "/api/v1/projects", body: #"{"name":"app"}"#)
            #expect(status == 409 && error.error.code == "project_exists")
            (status, error) = try await Self.apiError(env, "GET", "/api/v1/projects/nope")
            #expect(status == 404 && error.error.code == "project_not_found")
            (status, error) = try await Self.apiError(env, "GET", "/api/v1/projects/app/branches/nope")
            #expect(status == 404 && error.error.code == "branch_not_found")
            (status, error) = try await Self.apiError(env, "POST", "/api/v1/projects/app/branches", body: #"{"name":"x","from":"nope"}"#)
            #expect(status == 404 && error.error.code == "branch_not_found")
            (status, error) = try await Self.apiError(env, "POST", "/api/v1/projects/app/branches", body: #"{"name":"main"}"#)
            #expect(status == 409 && error.error.code == "branch_exists")
            (status, error) = try await Self.apiError(env, "POST", "/api/v1/projects/app/branches", body: #"{"name":"../../etc"}"#)
            #expect(status == 400 && error.error.code == "invalid_name")
            (status, error) = try await Self.apiError(env, "DELETE", "/api/v1/projects/app/snapshots/nope")
            #expect(status == 404 && error.error.code == "snapshot_not_found")
            (status, error) = try await Self.apiError(env, "POST", "/api/v1/projects/app/snapshots/nope/restore", body: #"{"as":"x"}"#)
            #expect(status == 404 && error.error.code == "snapshot_not_found")
            (status, error) = try await Self.apiError(env, "POST", "/api/v1/projects/app/branches", body: "{not json")
            #expect(status == 400 && error.error.code == "invalid_request")
            (status, error) = try await Self.apiError(env, "POST", "/api/v1/projects/app/branches", body: #"{"from":"main"}"#)
            #expect(status == 400 && error.error.message.contains("name"))
            (status, error) = try await Self.apiError(env, "POST", "/api/v1/projects/app/branches/main/reset")
            #expect(status == 409 && error.error.code == "branch_has_no_parent")
            let huge = #"{"name":""# + String(repeating: "x", count: 2 << 20) + #""}"#
            (status, error) = try await Self.apiError(env, "POST", "/api/v1/projects", body: huge)
            #expect(status == 413 && error.error.code == "payload_too_large")
            (status, error) = try await Self.apiError(env, "GET", "/api/v1/nowhere")
            #expect(status == 404 && error.error.code == "not_found")

            // Nothing of the refused requests exists.
            #expect(try await env.json(BranchList.self, "list", "--project", "app").branches.map(\.name) == ["main"])
            #expect(try await env.subvolumes("projects/app/branches") == ["main"])
            #expect(try await env.errorCode("create", "x", "--project", "ghost") == "project_not_found")
            #expect(try await env.errorCode("list") == "project_required")
        }
    }

    @Test("an operation on a branch still being created is refused at once with not_ready")
    func busyBranch() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            await env.stopService()
            // Hold branch creation right after its catalog rows exist.
            try await env.startService(environment: ["BRANCH_PAUSE_AT": "branch.create.after-catalog"])
            async let creation = env.cli("create", "slow", "--project", "app")
            var refusal: (Int, Components.Schemas.ErrorBody)?
            for _ in 0..<100 {
                let attempt = try await Self.apiError(env, "DELETE", "/api/v1/projects/app/branches/slow")
                if attempt.1.error.code == "not_ready" {
                    refusal = attempt
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(refusal?.0 == 409)
            let (snapshotStatus, snapshotError) = try await Self.apiError(
                env, "POST", "/api/v1/projects/app/snapshots", body: #"{"branch":"slow"}"#)
            #expect(snapshotStatus == 409 && snapshotError.error.code == "not_ready")
            #expect(try await creation.succeeded)
            #expect(try await env.json(BranchList.self, "list", "--project", "app").branches.count == 2)
        }
    }

    @Test("a branch whose port another program holds does not start, with postgres_port_taken; it starts once the port is free")
    func portTaken() async throws {
        try await TestEnvironment.with { env in
            try await env.linkedProject()
            let port = try await env.json(BranchResult.self, "create", "b").branch.port
            _ = try await env.json(BranchResult.self, "stop", "b")

            let holder = try #require(Self.listen(on: port), "could not take port \(port) for the test")
            let refused = try await env.errorCode("start", "b")
            close(holder)
            #expect(refused == "postgres_port_taken")
            #expect(try await env.json(BranchResult.self, "start", "b").branch.status == "running")
        }
    }

    /// A listening socket on 127.0.0.1:`port`, as another program would hold it.
    static func listen(on port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 1) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    @Test("a full pool: a clear pool_full error and no half-made branch")
    func fullPool() async throws {
        try await TestEnvironment.with(poolSize: "512M") { env in
            try await env.linkedProject()
            let snapshotsBefore = try await env.subvolumes("projects/app/snapshots")
            // Fill the pool with a file outside any subvolume.
            _ = try await Command.run("dd", ["if=/dev/zero", "of=\(env.pool)/filler", "bs=1M", "count=2000"], check: false)
            _ = try await Command.run("sync")
            #expect(try await env.errorCode("create", "feature") == "pool_full")
            #expect(try await env.errorCode("snapshot", "create") == "pool_full")
            #expect(try await env.json(BranchList.self, "list").branches.map(\.name) == ["main"])
            #expect(try await env.subvolumes("projects/app/branches") == ["main"])
            #expect(try await env.subvolumes("projects/app/snapshots") == snapshotsBefore)
            #expect(try await env.subvolumes("work").isEmpty)

            // Once space is freed, everything works again: main and new branches.
            try FileManager.default.removeItem(atPath: "\(env.pool)/filler")
            _ = try await Command.run("sync")
            #expect(try await env.psql(try await env.cli("url").output, "select 1") == "1")
            _ = try await env.json(BranchResult.self, "create", "feature")
        }
    }
}
