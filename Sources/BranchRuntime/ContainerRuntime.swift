import BranchCore
import BranchSystem
package import BranchPostgres
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs each branch's Postgres in an OCI container: podman (no image: the host's root as a
/// read-only overlay, `--rootfs /:O`) or docker (the official `postgres:<major>` image). Only the
/// branch's subvolume, the socket directory and the branch's log directory are bind-mounted, at
/// fixed paths under /branch (so no host directory on the way needs to be reachable, and no
/// other project's data is); the container uses the host network, so the branch's port is the host's. Containers
/// are named `<prefix>-<project>-<branch>` and labelled with the pool, so `podman ps` tells an
/// operator what is what and the service can adopt them after a restart.
package struct ContainerRuntime: BranchServerRuntime {
    package enum Flavor: Sendable, Hashable {
        /// podman with global arguments such as `--runtime runc --cgroup-manager cgroupfs`.
        case podman(globalArguments: [String])
        /// docker with the image to run.
        case docker(image: String)
    }

    package let flavor: Flavor
    package let installation: PostgresInstallation
    package let prefix: String
    package let pool: String
    package let report: RuntimeReport
    private let pids = PIDTable()

    package var name: String {
        switch flavor {
        case .podman: "podman"
        case .docker: "docker"
        }
    }

    var executable: String {
        switch flavor {
        case .podman: "podman"
        case .docker: "docker"
        }
    }

    var globalArguments: [String] {
        if case .podman(let arguments) = flavor { return arguments }
        return []
    }

    package func displayName(_ spec: ServerSpec) -> String { "\(prefix)-\(spec.project)-\(spec.branch)" }

    /// Mount points inside every container.
    static let dataMount = "/branch/data"
    static let socketMount = "/branch/run"
    static let logMount = "/branch/logs"
    static let walMount = "/branch/wal"
    static let restoreWalMount = "/branch/restore-wal"
    static let scriptMount = "/branch/bin"

    package func serverPaths(_ spec: ServerSpec) -> ServerPaths {
        let relativeData = spec.dataDirectory.hasPrefix(spec.subvolume + "/") ? String(spec.dataDirectory.dropFirst(spec.subvolume.count)) : "/pgdata"
        return ServerPaths(
            dataDirectory: Self.dataMount + relativeData, socketDirectory: Self.socketMount, logDirectory: Self.logMount,
            walDirectory: spec.walDirectory.map { _ in Self.walMount }, restoreWalDirectory: spec.restoreWalDirectory.map { _ in Self.restoreWalMount },
            scriptDirectory: spec.scriptDirectory.map { _ in Self.scriptMount })
    }

    /// The `run` arguments for a spec (a pure function, unit-tested).
    package func runArguments(_ spec: ServerSpec, user: (uid: UInt32, gid: UInt32), limits: (nofile: UInt64, nproc: UInt64)) -> [String] {
        var arguments = globalArguments + [
            "run", "--detach", "--rm", "--name", displayName(spec),
            "--label", "branch.pool=\(pool)", "--label", "branch.project=\(spec.project)", "--label", "branch.branch=\(spec.branch)",
            "--network", "host", "--user", "\(user.uid):\(user.gid)",
            "--stop-signal", "SIGINT", "--stop-timeout", "60",
            "--ulimit", "nofile=\(limits.nofile):\(limits.nofile)", "--ulimit", "nproc=\(limits.nproc):\(limits.nproc)",
            "--shm-size", "256m", "--log-opt", "max-size=1mb",
            "--volume", "\(spec.subvolume):\(Self.dataMount)",
            "--volume", "\(spec.socketDirectory):\(Self.socketMount)",
            "--volume", "\(spec.logDirectory):\(Self.logMount)",
        ]
        if case .podman = flavor {
            // The host root is the container's root; hide the pool in it, in case the pool is on
            // the root filesystem and other projects' data would show through.
            arguments += ["--tmpfs", "\(pool):size=64k,mode=0700", "--pidfile", pidFile(spec)]
        }
        if let wal = spec.walDirectory { arguments += ["--volume", "\(wal):\(Self.walMount)"] }
        if let restore = spec.restoreWalDirectory { arguments += ["--volume", "\(restore):\(Self.restoreWalMount):ro"] }
        if let scripts = spec.scriptDirectory { arguments += ["--volume", "\(scripts):\(Self.scriptMount):ro"] }
        let dataDirectory = serverPaths(spec).dataDirectory
        if case .podman = flavor { arguments.insert("--replace", at: globalArguments.count + 3) }
        if let memory = spec.limits.memory { arguments += ["--memory", String(memory), "--memory-swap", String(memory)] }
        if let cpus = spec.limits.cpus { arguments += ["--cpus", String(cpus)] }
        switch flavor {
        case .podman:
            arguments += ["--rootfs", "/:O", installation.tool("postgres"), "-D", dataDirectory]
        case .docker(let image):
            arguments += ["--env", "PGDATA=\(dataDirectory)", image, "postgres", "-D", dataDirectory]
        }
        return arguments
    }

    package func start(_ spec: ServerSpec, timeout: Duration) async throws {
        if state(spec).isRunning { return }
        // A postmaster started outside a container (an earlier service with the process runtime)
        // may still hold this data directory; its lock is invisible from the container's pid
        // namespace, so stop it first rather than run two servers on one directory.
        let host = PostgresServer(installation: installation, dataDirectory: spec.dataDirectory, logFile: spec.startupLog)
        if host.runningPID() != nil { try await host.stop() }
        guard let account = getpwnam(ClusterFiles.superuser) else {
            throw PostgresError(.postgresStartFailed, "There is no '\(ClusterFiles.superuser)' user on this host.")
        }
        let user = (account.pointee.pw_uid, account.pointee.pw_gid)
        unlink(pidFile(spec))
        let run = try await Command.run(executable, runArguments(spec, user: user, limits: Self.rlimits), check: false)
        guard run.succeeded else {
            throw PostgresError(.postgresStartFailed, "\(name) could not start \(displayName(spec)): \(run.tail)")
        }
        // The postmaster's host pid: from podman's pid file, or (docker) learnt while Postgres
        // starts rather than before.
        let container = displayName(spec)
        var inspection: Task<Int32, any Error>?
        if let pid = writtenPID(spec) {
            pids.set(container, pid)
        } else {
            inspection = Task { [pids] in
                do {
                    let pid = try await inspectPID(container)
                    pids.set(container, pid)
                    return pid
                } catch {
                    pids.set(container, -1)  // exited already: stop waiting
                    throw error
                }
            }
        }
        let ready = await PGPing.waitUntilReady(spec.superuserConnection, timeout: timeout) { [pids] in
            pids.get(container).map { $0 > 0 && Self.isAlive($0) } ?? true
        }
        _ = try? await inspection?.value
        guard ready else {
            let logs = (try? await Command.run(executable, globalArguments + ["logs", "--tail", "5", displayName(spec)], check: false))?.tail ?? ""
            try? await stop(spec)
            if let taken = PostgresError.portTaken(spec.superuserConnection.port, running: false) { throw taken }
            throw PostgresError(.postgresStartFailed, "Postgres in \(displayName(spec)) did not accept connections within \(timeout): \(logs)")
        }
    }

    package func stop(_ spec: ServerSpec) async throws {
        let container = displayName(spec)
        _ = try await Command.run(executable, globalArguments + ["stop", "--time", "60", container], check: false)
        _ = try await Command.run(executable, globalArguments + ["rm", "--force", container], check: false)
        pids.remove(container)
    }

    package func state(_ spec: ServerSpec) -> RunState {
        guard let pid = pids.get(displayName(spec)), pid > 0, Self.isAlive(pid) else { return .stopped }
        return .running(pid: pid)
    }

    package func update(_ spec: ServerSpec) async throws {
        guard state(spec).isRunning else { return }
        var arguments = globalArguments + ["update"]
        if let memory = spec.limits.memory { arguments += ["--memory", String(memory), "--memory-swap", String(memory)] }
        if let cpus = spec.limits.cpus { arguments += ["--cpus", String(cpus)] }
        guard arguments.count > globalArguments.count + 1 else { return }
        let result = try await Command.run(executable, arguments + [displayName(spec)], check: false)
        guard result.succeeded else {
            throw RuntimeError("\(name) could not update the limits of \(displayName(spec)): \(result.tail)", code: .runtimeUpdateFailed)
        }
    }

    package func adoptRunning() async {
        guard let listing = try? await Command.run(
            executable, globalArguments + ["ps", "--quiet", "--filter", "label=branch.pool=\(pool)"], check: false),
            listing.succeeded
        else { return }
        for id in listing.stdout.split(separator: "\n") {
            guard let inspected = try? await Command.run(
                executable, globalArguments + ["inspect", "--format", "{{.Name}} {{.State.Pid}}", String(id)], check: false)
            else { continue }
            let fields = inspected.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
            guard fields.count == 2, let pid = Int32(fields[1]), pid > 0 else { continue }
            let containerName = fields[0].hasPrefix("/") ? String(fields[0].dropFirst()) : String(fields[0])
            pids.set(containerName, pid)
        }
    }

    package func usage(_ spec: ServerSpec) -> ResourceUsage? {
        state(spec).pid.flatMap { CgroupInfo.usage(ofCgroupOf: $0) }
    }

    /// Where podman writes the postmaster's host pid as the container starts (`--pidfile`), in the
    /// branch's own socket directory: read when `run` returns, where a `podman inspect` would
    /// compete with Postgres's start for the CPU.
    func pidFile(_ spec: ServerSpec) -> String { "\(spec.socketDirectory)/container.pid" }

    private func writtenPID(_ spec: ServerSpec) -> Int32? {
        guard case .podman = flavor, let text = Files.read(pidFile(spec)),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        else { return nil }
        return pid
    }

    private func inspectPID(_ container: String) async throws -> Int32 {
        let result = try await Command.run(executable, globalArguments + ["inspect", "--format", "{{.State.Pid}}", container], check: false)
        guard result.succeeded, let pid = Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else {
            throw PostgresError(.postgresStartFailed, "\(container) exited right after it started: \(result.tail)")
        }
        return pid
    }

    /// A live, non-zombie process.
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM, let stat = Files.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else {
            return false
        }
        let state = stat[stat.index(close, offsetBy: 2)...].first
        return state != "Z" && state != "X"
    }

    /// File and process limits for containers, set explicitly because podman's defaults exceed
    /// what many hosts allow (a container cannot raise a hard limit): as high as the hard limits
    /// and the kernel's pid_max permit. nproc counts every process of the postgres user, all
    /// branches together, so it gets as much as it can.
    static let rlimits: (nofile: UInt64, nproc: UInt64) = {
        var files = rlimit()
        var processes = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
        getrlimit(Int32(__RLIMIT_NPROC.rawValue), &processes)  // RLIMIT_NPROC is a macro Swift does not import
        let pidMax = UInt64((Files.read("/proc/sys/kernel/pid_max") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 32_768
        let nofile = min(UInt64(files.rlim_max), 65_536)
        let nproc = min(UInt64(processes.rlim_max), pidMax, 65_536)
        return (nofile, nproc)
    }()
}

/// Host pids of the containers' postmasters, by container name.
final class PIDTable: Sendable {
    private let table = Mutex<[String: Int32]>([:])

    func get(_ name: String) -> Int32? { table.withLock { $0[name] } }
    func set(_ name: String, _ pid: Int32) { table.withLock { $0[name] = pid } }
    func remove(_ name: String) { _ = table.withLock { $0.removeValue(forKey: name) } }
}
