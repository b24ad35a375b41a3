import BranchCore
import BranchSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a CLI invocation printed and returned.
package struct CLIResult: Sendable {
    package let status: Int32
    package let stdout: String
    package let stderr: String

    package var succeeded: Bool { status == 0 }
    package var output: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// A fresh pool in a temporary directory and the real `branch serve` running on it, on free
/// ports, driven through the real `branch` CLI. `TestEnvironment.with` removes everything it
/// made (service, every Postgres and PgBouncer under the pool, the mount, the image) whatever
/// the test did.
package final class TestEnvironment: @unchecked Sendable {
    package let root: String
    package let apiPort: Int
    package let poolerPort: Int
    package let portRange: ClosedRange<Int>
    package let poolSize: String
    package private(set) var servicePID: Int32?
    package var serviceLog: String { "\(root)/serve.log" }
    package var pool: String { "\(root)/pool" }
    package var image: String { "\(root)/pool.img" }
    package var url: String { "\(tls ? "https" : "http")://127.0.0.1:\(apiPort)" }
    /// Whether the service serves HTTPS (`TestEnvironment.with(tls: true)`); else `--tls off`, as
    /// most tests and the Python clients speak plain HTTP to it.
    package var tls = false
    /// The self-signed certificate the service makes at its first start (beside the master key).
    package var certificateFile: String { "\(root)/tls/cert.pem" }
    /// A folder for the CLI's config and `.branch` link, like a user's home and app folder.
    package var home: String { "\(root)/home" }
    package var workingDirectory: String { "\(root)/app" }

    package var token: String { Files.read("\(pool)/admin.key")?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "" }

    /// The `branch` executable under test: `BRANCH_BIN`, else the package's debug build.
    package static var binary: String {
        if let path = ProcessInfo.processInfo.environment["BRANCH_BIN"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/branch").path
    }

    init(poolSize: String) throws {
        root = "/var/tmp/branch-tests/\(Identifiers.shortID(length: 10))"
        try Files.ensureDirectory(root, mode: 0o755)
        try Files.ensureDirectory("\(root)/home", mode: 0o700)
        try Files.ensureDirectory("\(root)/app", mode: 0o755)
        apiPort = try Self.freePort()
        poolerPort = try Self.freePort()
        // Test processes run side by side (scripts/test.sh shards the suites): each shard draws its
        // branch port ranges from its own part of 20000-29999.
        let base = Int.random(in: TestShard.share(of: 200...299)) * 100
        portRange = base...(base + 99)
        self.poolSize = poolSize
    }

    /// Runs `body` with a started environment and always cleans up after it.
    package static func with<T>(
        poolSize: String = "1G", start: Bool = true, serveArguments: [String] = [], backups: Bool = false, tls: Bool = false,
        _ body: (TestEnvironment) async throws -> T
    ) async throws -> T {
        let environment = try TestEnvironment(poolSize: poolSize)
        environment.extraServeArguments = serveArguments
        environment.tls = tls
        if backups { try environment.configureBackups() }
        do {
            if start { try await environment.startService() }
            let result = try await body(environment)
            await environment.cleanUp()
            return result
        } catch {
            if let log = Files.read(environment.serviceLog) {
                print("---- service log (\(environment.root)) ----\n\(log.split(separator: "\n").suffix(40).joined(separator: "\n"))")
            }
            await environment.cleanUp()
            throw error
        }
    }

    // MARK: The service

    /// Container names of this environment start with this, so parallel pools never collide.
    package var containerPrefix: String { "bt\(root.split(separator: "/").last!)" }

    package var serveArguments: [String] {
        [
            "serve", "--pool", pool, "--pool-size", poolSize, "--listen", "127.0.0.1:\(apiPort)", "--pooler-port", String(poolerPort),
            "--port-range", "\(portRange.lowerBound)-\(portRange.upperBound)", "--pooler-listen", "127.0.0.1",
            "--container-prefix", containerPrefix, "--master-key-file", masterKeyFile,
        ] + (tls ? [] : ["--tls", "off"]) + extraServeArguments
    }

    /// This environment's master key (made by its first start), so tests never touch /etc/branch.
    package var masterKeyFile: String { "\(root)/master.key" }

    /// The executable `branch serve` runs from (default: `binary`): a copy in the environment for
    /// tests that upgrade the service's binary in place.
    package var serviceBinary: String?

    /// Added to every `branch serve` of this environment (e.g. `--runtime process`).
    package var extraServeArguments: [String] = []
    /// Added to the service's environment (e.g. S3 credentials).
    package var serviceEnvironment: [String: String] = [:]
    /// The backup key (base64) this environment's service uses, when backups are set up.
    package private(set) var backupKey: String?
    package var backupKeyFile: String { "\(root)/backup.key" }
    package var defaultBackupDirectory: String { "\(root)/backups" }

    /// Gives the service a backup key (a new one unless given) and a target (default: a
    /// directory in this environment).
    package func configureBackups(target: String? = nil, key: String? = nil, environment: [String: String] = [:]) throws {
        let key = key ?? Self.newBackupKey()
        try Files.writeAtomically(key + "\n", to: backupKeyFile, mode: 0o600)
        backupKey = key
        extraServeArguments += ["--backup-target", target ?? "dir:\(defaultBackupDirectory)", "--backup-key-file", backupKeyFile]
        serviceEnvironment.merge(environment) { _, new in new }
    }

    package static func newBackupKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
    }

    /// Where `armCrash(at:)` names the point the running service kills itself at.
    var crashPointFile: String { "\(root)/crash-at" }

    /// Makes the running service die by SIGKILL when it reaches `point` (see `FaultInjection`),
    /// without restarting it; the next `startService` disarms it.
    package func armCrash(at point: String) throws {
        try Files.writeAtomically(point + "\n", to: crashPointFile, mode: 0o644)
    }

    /// Starts `branch serve` and waits until its API answers.
    package func startService(environment extra: [String: String] = [:], arguments: [String] = []) async throws {
        try? FileManager.default.removeItem(atPath: crashPointFile)
        var environment = Command.baseEnvironment
        environment["BRANCH_CRASH_AT_FILE"] = crashPointFile
        if let templateCache = Self.templateCache { environment["BRANCH_TEMPLATE_CACHE"] = templateCache }
        environment.merge(serviceEnvironment) { _, new in new }
        environment.merge(extra) { _, new in new }
        let pid = try Command.launch(serviceBinary ?? Self.binary, serveArguments + arguments, environment: environment, logFile: serviceLog)
        servicePID = pid
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            // A connect is nearly free; curl (a process) only once the port is open.
            if PortProbe.acceptsConnections(apiPort), await healthy() { return }
            if kill(pid, 0) != 0 || Self.isZombie(pid) {
                _ = await Command.waitForExit(pid)
                servicePID = nil
                throw TestFailure("branch serve exited during start-up:\n\(Files.read(serviceLog) ?? "")")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("branch serve did not answer within 60 s")
    }

    /// Where the services of this test run share the template the first of them built (see
    /// `TemplateCache`): keyed by the binary under test, under the directory `make test` removes.
    static let templateCache: String? = {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: binary),
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970, let size = attributes[.size] as? Int
        else { return nil }
        return "/var/tmp/branch-tests/template-cache/\(Int(modified * 1000))-\(size)"
    }()

    /// Starts the service expecting it to fail; returns its exit status and log.
    package func startServiceExpectingFailure(arguments: [String] = []) async throws -> (status: Int32, log: String) {
        let pid = try Command.launch(Self.binary, serveArguments + arguments, environment: Command.baseEnvironment, logFile: serviceLog)
        let status = await Command.waitForExit(pid)
        return (status, Files.read(serviceLog) ?? "")
    }

    package func healthy() async -> Bool {
        // Readiness only (-k): the TLS tests check the certificate themselves.
        let insecure = tls ? ["-k"] : []
        guard let result = try? await Command.run("curl", insecure + ["-fsS", "--max-time", "2", "\(url)/api/v1/health"], check: false) else {
            return false
        }
        return result.succeeded
    }

    /// Stops the service with SIGTERM (graceful: it stops every branch server) and waits for it.
    @discardableResult
    package func stopService() async -> Int32? {
        guard let pid = servicePID else { return nil }
        kill(pid, SIGTERM)
        let status = await Command.waitForExit(pid)
        servicePID = nil
        return status
    }

    /// Stops the service with SIGTERM like `stopService`, but kills it (SIGKILL, returning nil) when
    /// it has not exited within `limit`: for tests of what holds a shutdown up.
    package func stopService(within limit: Duration) async -> Int32? {
        guard let pid = servicePID else { return nil }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + limit
        let exited = Task { await Command.waitForExit(pid) }
        while ContinuousClock.now < deadline {
            if !Self.isRunning(pid) { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        let late = Self.isRunning(pid)
        if late { kill(pid, SIGKILL) }
        let status = await exited.value
        servicePID = nil
        return late ? nil : status
    }

    /// Whether `pid` is alive and not a zombie waiting to be reaped.
    static func isRunning(_ pid: Int32) -> Bool { kill(pid, 0) == 0 && !isZombie(pid) }

    /// Kills the service with SIGKILL, leaving whatever it was doing half done.
    package func killService() async {
        guard let pid = servicePID else { return }
        kill(pid, SIGKILL)
        _ = await Command.waitForExit(pid)
        servicePID = nil
    }

    /// Waits for a service that kills itself (a crash point) to exit.
    /// The service's exit status; nil when it had not exited after `timeout` (it is then killed, so
    /// a test whose operation never reached its crash point fails instead of waiting forever).
    package func waitForServiceExit(timeout: Duration = .seconds(120)) async -> Int32? {
        guard let pid = servicePID else { return nil }
        let watchdog = Task { () -> Bool in
            do { try await Task.sleep(for: timeout) } catch { return false }
            kill(pid, SIGKILL)
            return true
        }
        let status = await Command.waitForExit(pid)
        watchdog.cancel()
        let killed = await watchdog.value
        servicePID = nil
        return killed ? nil : status
    }

    // MARK: Clients

    /// Runs the `branch` CLI as a user would, from the app folder, with this service's URL and key.
    package func cli(_ arguments: [String], environment extra: [String: String] = [:], directory: String? = nil, input: String? = nil) async throws -> CLIResult {
        var environment = Command.baseEnvironment
        environment["HOME"] = home
        environment["BRANCH_URL"] = url
        environment["BRANCH_TOKEN"] = token
        // With TLS the CLI verifies the service's own certificate (an empty value in `extra` unsets it).
        if tls { environment["BRANCH_CA_FILE"] = certificateFile }
        environment.merge(extra) { _, new in new }
        let result = try await Command.run(
            "/usr/bin/env", ["-C", directory ?? workingDirectory, Self.binary] + arguments, environment: environment, input: input, check: false)
        return CLIResult(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    package func cli(_ arguments: String...) async throws -> CLIResult { try await cli(arguments) }

    /// Creates project `name`, links the environment's folder to it (commands then need no
    /// `--project`), and returns the direct URL of its main branch.
    @discardableResult
    package func linkedProject(_ name: String = "app") async throws -> String {
        for arguments in [["project", "create", name], ["link", name]] {
            let result = try await cli(arguments)
            guard result.succeeded else { throw TestFailure("`branch \(arguments.joined(separator: " "))` failed: \(result.stderr)") }
        }
        return try await cli("url", "main").output
    }

    /// Runs the CLI with `--json`, requires success and decodes the output.
    package func json<T: Decodable>(_ type: T.Type, _ arguments: String...) async throws -> T {
        let result = try await cli(arguments + ["--json"])
        guard result.succeeded else {
            throw TestFailure("`branch \(arguments.joined(separator: " "))` failed (\(result.status)): \(result.stderr)")
        }
        do {
            return try JSONDecoder.api.decode(T.self, from: Data(result.stdout.utf8))
        } catch {
            throw TestFailure("`branch \(arguments.joined(separator: " "))` printed JSON that is not a \(T.self): \(error)\n\(result.stdout)")
        }
    }

    /// Runs the CLI with `--json`, requires it to fail, and returns the error's stable code (what
    /// tests assert: messages and hints are for people and may be reworded).
    package func errorCode(_ arguments: String...) async throws -> String {
        let result = try await cli(arguments + ["--json"])
        guard !result.succeeded else {
            throw TestFailure("`branch \(arguments.joined(separator: " "))` succeeded but should have failed: \(result.stdout)")
        }
        struct Printed: Decodable { struct Error: Decodable { let code: String }; let error: Error }
        guard let printed = try? JSONDecoder().decode(Printed.self, from: Data(result.stdout.utf8)) else {
            throw TestFailure("`branch \(arguments.joined(separator: " "))` printed no JSON error: \(result.stdout)\n\(result.stderr)")
        }
        return printed.error.code
    }

    /// Runs the CLI, requires it to fail, and returns what it printed.
    package func failure(_ arguments: String...) async throws -> CLIResult {
        let result = try await cli(arguments)
        guard !result.succeeded else {
            throw TestFailure("`branch \(arguments.joined(separator: " "))` succeeded but should have failed: \(result.stdout)")
        }
        return result
    }

    /// The newest installed psql itself, not Debian's Perl wrapper in front of it: the suite runs
    /// psql a thousand times, and the wrapper's start costs more than psql's.
    package static let psqlBinary: String = {
        let root = "/usr/lib/postgresql"
        let majors = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap { Int($0) }.sorted(by: >)
        return majors.map { "\(root)/\($0)/bin/psql" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "psql"
    }()

    /// Runs SQL with psql against a URL; returns unaligned, tuples-only output.
    @discardableResult
    package func psql(_ url: String, _ sql: String) async throws -> String {
        let result = try await Command.run(Self.psqlBinary, [url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check: false)
        guard result.succeeded else { throw TestFailure("psql failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: What is on disk

    /// Names of the subvolumes under a pool directory (e.g. `projects/app/branches`).
    package func subvolumes(_ relative: String) async throws -> [String] {
        let directory = "\(pool)/\(relative)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var result: [String] = []
        for name in names.sorted() {
            let check = try await Command.run("btrfs", ["subvolume", "show", "\(directory)/\(name)"], check: false)
            if check.succeeded { result.append(name) }
        }
        return result
    }

    /// Pids of this environment's servers: PgBouncer and plain-process postmasters (their command
    /// lines name the pool) and the postmasters of its containers.
    package func serverProcesses() async -> [Int32] {
        // podman's conmon mentions the pool too (the container's pid file is in the branch's
        // socket directory); it is a container's monitor, not a server.
        var pids = Self.processes(mentioning: root).filter { Files.read("/proc/\($0)/comm")?.hasPrefix("conmon") != true }
        for container in await containers() {
            let inspected = try? await Command.run("podman", ["inspect", "--format", "{{.State.Pid}}", container], check: false)
            if let pid = Int32((inspected?.stdout ?? "").trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 { pids.append(pid) }
        }
        return pids.sorted()
    }

    /// The host pid of a container's postmaster, or of a plain-process postmaster (from its pid file).
    package func postmasterPID(project: String, branch: String) async -> Int32? {
        let container = "\(containerPrefix)-\(project)-\(branch)"
        if let inspected = try? await Command.run("podman", ["inspect", "--format", "{{.State.Pid}}", container], check: false),
            inspected.succeeded, let pid = Int32(inspected.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        {
            return pid
        }
        let pidFile = Files.read("\(pool)/projects/\(project)/branches/\(branch)/pgdata/postmaster.pid")
        return pidFile?.split(separator: "\n").first.flatMap { Int32($0) }
    }

    // MARK: Clean-up

    /// Names of this environment's containers that exist now.
    package func containers() async -> [String] {
        let result = try? await Command.run(
            "podman", ["ps", "--all", "--filter", "label=branch.pool=\(pool)", "--format", "{{.Names}}"], check: false)
        return (result?.stdout ?? "").split(separator: "\n").map(String.init).sorted()
    }

    package func cleanUp() async {
        await stopService()
        await stopServicesStartedElsewhere()
        if Command.which("podman") != nil {
            let ids = (try? await Command.run("podman", ["ps", "--all", "--quiet", "--filter", "label=branch.pool=\(pool)"], check: false))?.stdout ?? ""
            let list = ids.split(separator: "\n").map(String.init)
            if !list.isEmpty { _ = try? await Command.run("podman", ["rm", "--force", "--time", "5"] + list, check: false) }
        }
        for pid in Self.processes(mentioning: root) { kill(pid, SIGKILL) }
        for _ in 0..<100 where !Self.processes(mentioning: root).isEmpty {
            try? await Task.sleep(for: .milliseconds(50))
        }
        // A service killed without a clean stop left its port range reserved in the kernel.
        ReservedPorts.release(marker: "\(pool)/reserved-ports")
        if Self.isMounted(pool) {
            if (try? await Command.run("umount", [pool]))?.succeeded != true {
                _ = try? await Command.run("umount", ["-l", pool], check: false)
            }
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Pids of this environment's `branch serve` processes that this harness did not start (an
    /// upgrade's watchdog starts the service again after a rollback).
    package func servicesStartedElsewhere() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard pid != getpid(), pid != servicePID, !Self.isZombie(pid),
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            let command = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return command.contains(" serve ") && command.contains(pool)
        }
    }

    /// Stops those with SIGTERM (graceful), SIGKILL after 30 s.
    package func stopServicesStartedElsewhere() async {
        let pids = servicesStartedElsewhere()
        for pid in pids { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, pids.contains(where: Self.isRunning) {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for pid in pids where Self.isRunning(pid) { kill(pid, SIGKILL) }
    }

    // MARK: Helpers

    static func isMounted(_ path: String) -> Bool {
        (Files.read("/proc/mounts") ?? "").split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first == Substring(path) }
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = Files.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(close, offsetBy: 2)...].first == "Z"
    }

    static func processes(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard pid != getpid(), !isZombie(pid),
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return false }
            let command = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return command.contains(text) && !command.contains(" serve ")
        }
    }

    package static func freePort() throws -> Int {
        try TestPorts.free()
    }
}

extension JSONDecoder {
    /// How the API's JSON reads: ISO 8601 dates (without fractional seconds).
    static var api: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// A test precondition that did not hold.
package struct TestFailure: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
