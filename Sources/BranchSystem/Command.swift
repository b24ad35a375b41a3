package import BranchCore
import CLinux
import Dispatch
import Foundation
import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// What a finished command printed and returned.
package struct CommandResult: Sendable {
    package let status: Int32
    package let stdout: String
    package let stderr: String

    package var succeeded: Bool { status == 0 }
    /// The last lines of stderr (or stdout when stderr is empty), for error messages.
    package var tail: String {
        let text = stderr.isEmpty ? stdout : stderr
        return text.split(separator: "\n").suffix(5).joined(separator: "\n")
    }
}

/// A failed command.
package struct CommandError: ReportableError {
    package let executable: String
    package let result: CommandResult?
    package let underlying: String?

    package var code: ErrorCode { .commandFailed }
    package var message: String {
        if let result {
            return "\(executable) exited with status \(result.status): \(result.tail)"
        }
        return "\(executable) could not be run: \(underlying ?? "unknown error")"
    }
    package var hint: String? { nil }
}

/// Runs external programs (initdb, pg_ctl, mkfs.btrfs, mount, pgbouncer) without blocking
/// Swift's cooperative threads; a cancelled caller kills what it started.
package enum Command {
    /// The environment every child gets: predictable locale, no inherited secrets.
    package static let baseEnvironment: [String: String] = [
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    ]

    /// Runs `executable` with `arguments` and returns what it printed.
    ///
    /// - Parameters:
    ///   - user: run as this OS user (through `setpriv`, which execs, so no extra process stays).
    ///   - environment: added to `baseEnvironment`.
    ///   - check: throw `CommandError` when the exit status is not 0.
    @discardableResult
    package static func run(
        _ executable: String,
        _ arguments: [String] = [],
        user: String? = nil,
        environment: [String: String] = [:],
        input: String? = nil,
        check: Bool = true
    ) async throws(CommandError) -> CommandResult {
        var path = executable.hasPrefix("/") ? executable : (which(executable) ?? executable)
        var args = arguments
        if let user {
            args = ["--reuid=\(user)", "--regid=\(user)", "--init-groups", "--", path] + arguments
            path = "/usr/bin/setpriv"
        }
        var env = baseEnvironment
        if let user, let home = homeDirectory(of: user) { env["HOME"] = home }
        env.merge(environment) { _, new in new }

        let result: CommandResult
        do {
            result = try await spawn(path: path, arguments: args, environment: env, input: input)
        } catch {
            throw CommandError(executable: executable, result: nil, underlying: "\(error)")
        }
        if check && !result.succeeded {
            throw CommandError(executable: (executable as NSString).lastPathComponent, result: result, underlying: nil)
        }
        return result
    }

    /// Starts a long-running program in the background with stdout and stderr appended to
    /// `logFile`; returns its pid. The caller reaps it with `waitForExit`.
    package static func launch(_ executable: String, _ arguments: [String], environment: [String: String], logFile: String) throws(FileError) -> Int32 {
        _ = ignoreBrokenPipes
        let path = executable.hasPrefix("/") ? executable : (which(executable) ?? executable)
        let log = open(logFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw FileError("open", path: logFile, errno: errno) }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            close(log)
            close(null)
        }
        let (pid, result) = spawnProcess(path, arguments, environment, stdin: null, stdout: log, stderr: log)
        guard result == 0 else { throw FileError("run", path: path, errno: result) }
        return pid
    }

    /// Waits for a child started with `launch` to exit and returns its status (128+signal if killed).
    package static func waitForExit(_ pid: Int32) async -> Int32 {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: clinux_wait(pid)) }
        }
    }

    /// Finds a program on the base PATH.
    package static func which(_ name: String) -> String? {
        for dir in baseEnvironment["PATH"]!.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func homeDirectory(of user: String) -> String? {
        guard let entry = getpwnam(user), let dir = entry.pointee.pw_dir else { return nil }
        return String(cString: dir)
    }

    /// Writing to a child that exited must be an EPIPE error, not a SIGPIPE that ends the service.
    private static let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

    /// One command to its end, through swift-subprocess: posix_spawn in a new session, every
    /// inherited descriptor closed, signals reset; the exit is watched through a pidfd, so a
    /// program that daemonizes (`pg_ctl start`, `pgbouncer -d`) returns as soon as it exits even
    /// when its daemon keeps the output pipes. Cancelling the calling task kills the child.
    private static func spawn(
        path: String, arguments: [String], environment: [String: String], input: String?
    ) async throws -> CommandResult {
        _ = ignoreBrokenPipes
        var options = PlatformOptions()
        options.createSession = true
        let variables = Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(rawValue: $0.key)!, $0.value) })
        let result = try await Subprocess.run(
            .path(FilePath(path)), arguments: Arguments(arguments), environment: .custom(variables), platformOptions: options,
            input: .string(input ?? ""), output: .string(limit: .max), error: .string(limit: .max))
        let status: Int32 = switch result.terminationStatus {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
        return CommandResult(status: status, stdout: result.standardOutput, stderr: result.standardError)
    }
}

/// Starts `path` with `arguments` (argv[0] is the path) and exactly `environment`, its standard
/// streams on the given descriptors; the pid, and 0 or the errno of the failed start.
func spawnProcess(_ path: String, _ arguments: [String], _ environment: [String: String], stdin: Int32, stdout: Int32, stderr: Int32)
    -> (pid: pid_t, result: Int32)
{
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let result = clinux_spawn(path, argv, envp, stdin, stdout, stderr, &pid)
    return (pid, result)
}
