public import BranchCore
import CLinux
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a finished command printed and returned.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public var succeeded: Bool { status == 0 }
    /// The last lines of stderr (or stdout when stderr is empty), for error messages.
    public var tail: String {
        let text = stderr.isEmpty ? stdout : stderr
        return text.split(separator: "\n").suffix(5).joined(separator: "\n")
    }
}

/// A failed command.
public struct CommandError: ReportableError {
    public let executable: String
    public let result: CommandResult?
    public let underlying: String?

    public var code: ErrorCode { .commandFailed }
    public var message: String {
        if let result {
            return "\(executable) exited with status \(result.status): \(result.tail)"
        }
        return "\(executable) could not be run: \(underlying ?? "unknown error")"
    }
    public var hint: String? { nil }
}

/// Runs external programs (initdb, pg_ctl, mkfs.btrfs, mount, pgbouncer) without blocking
/// Swift's cooperative threads: pipes are drained and the exit awaited on Dispatch threads.
public enum Command {
    /// The environment every child gets: predictable locale, no inherited secrets.
    public static let baseEnvironment: [String: String] = [
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
    public static func run(
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
    public static func launch(_ executable: String, _ arguments: [String], environment: [String: String], logFile: String) throws(FileError) -> Int32 {
        _ = ignoreBrokenPipes
        let path = executable.hasPrefix("/") ? executable : (which(executable) ?? executable)
        let log = open(logFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw FileError("open", path: logFile, errno: errno) }
        let null = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer {
            close(log)
            close(null)
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = clinux_spawn(path, argv, envp, null, log, log, &pid)
        guard result == 0 else { throw FileError("run", path: path, errno: result) }
        return pid
    }

    /// Waits for a child started with `launch` to exit and returns its status (128+signal if killed).
    public static func waitForExit(_ pid: Int32) async -> Int32 {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: clinux_wait(pid)) }
        }
    }

    /// Finds a program on the base PATH.
    public static func which(_ name: String) -> String? {
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

    private static func spawn(
        path: String, arguments: [String], environment: [String: String], input: String?
    ) async throws -> CommandResult {
        _ = ignoreBrokenPipes
        var stdinPipe: [Int32] = [0, 0]
        var stdoutPipe: [Int32] = [0, 0]
        var stderrPipe: [Int32] = [0, 0]
        for index in 0..<3 {
            let result = index == 0 ? clinux_pipe(&stdinPipe) : index == 1 ? clinux_pipe(&stdoutPipe) : clinux_pipe(&stderrPipe)
            guard result == 0 else { throw FileError("create a pipe for", path: path, errno: result) }
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = clinux_spawn(path, argv, envp, stdinPipe[0], stdoutPipe[1], stderrPipe[1], &pid)
        // The child has its copies; ours of its ends must go so EOF arrives when it exits.
        close(stdinPipe[0])
        close(stdoutPipe[1])
        close(stderrPipe[1])
        guard spawned == 0 else {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            close(stderrPipe[0])
            throw FileError("run", path: path, errno: spawned)
        }
        let (stdinWriter, stdoutReader, stderrReader) = (stdinPipe[1], stdoutPipe[0], stderrPipe[0])
        let childPID = pid
        return await withCheckedContinuation { continuation in
            let group = DispatchGroup()
            let box = OutputBox()
            DispatchQueue.global().async(group: group) {
                if let input { _ = Self.writeAll(stdinWriter, Array(input.utf8)) }
                close(stdinWriter)
            }
            DispatchQueue.global().async(group: group) { box.stdout = Self.readAll(stdoutReader) }
            DispatchQueue.global().async(group: group) { box.stderr = Self.readAll(stderrReader) }
            DispatchQueue.global().async(group: group) { box.status = clinux_wait(childPID) }
            group.notify(queue: .global()) {
                continuation.resume(returning: CommandResult(
                    status: box.status,
                    stdout: String(decoding: box.stdout, as: UTF8.self),
                    stderr: String(decoding: box.stderr, as: UTF8.self)))
            }
        }
    }

    /// Reads until EOF, then closes the descriptor.
    private static func readAll(_ fd: Int32) -> [UInt8] {
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                output.append(contentsOf: buffer.prefix(count))
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(fd)
        return output
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += count
        }
        return true
    }
}

/// Collects a child's output and status from the threads that wait for them; each field is
/// written by one thread and read only after all have finished (DispatchGroup gives the ordering).
private final class OutputBox: @unchecked Sendable {
    var stdout: [UInt8] = []
    var stderr: [UInt8] = []
    var status: Int32 = -1
}
