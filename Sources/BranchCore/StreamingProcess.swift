import CLinux
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process whose standard input and output are streamed, for data too large to hold:
/// `btrfs send` into a backup, a backup into `btrfs receive`, `pg_dump` into an HTTP response.
/// Blocking reads and writes run on Dispatch threads, never on Swift's cooperative pool.
public final class StreamingProcess: @unchecked Sendable {
    public let pid: Int32
    public let executable: String
    private let stdinFD: Int32
    private let stdoutFD: Int32
    private let stderrFD: Int32
    private let queue = DispatchQueue(label: "branch.streaming-process.stdin")
    private let stderrBox = ErrorBox()
    private let stderrDone = DispatchGroup()
    private var inputClosed = false

    /// Starts `executable` with a pipe on each of stdin, stdout and stderr.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = Command.baseEnvironment) throws {
        let path = executable.hasPrefix("/") ? executable : (Command.which(executable) ?? executable)
        self.executable = (path as NSString).lastPathComponent
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        var errors: [Int32] = [0, 0]
        for index in 0..<3 {
            let result = index == 0 ? clinux_pipe(&input) : index == 1 ? clinux_pipe(&output) : clinux_pipe(&errors)
            guard result == 0 else { throw FileError("create a pipe for", path: path, errno: result) }
        }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = clinux_spawn(path, argv, envp, input[0], output[1], errors[1], &pid)
        close(input[0])
        close(output[1])
        close(errors[1])
        guard spawned == 0 else {
            close(input[1])
            close(output[0])
            close(errors[0])
            throw FileError("run", path: path, errno: spawned)
        }
        signal(SIGPIPE, SIG_IGN)
        self.pid = pid
        self.stdinFD = input[1]
        self.stdoutFD = output[0]
        self.stderrFD = errors[0]
        let box = stderrBox
        let fd = errors[0]
        stderrDone.enter()
        DispatchQueue.global().async { [stderrDone] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 { box.append(buffer.prefix(count)) } else if count < 0 && errno == EINTR { continue } else { break }
            }
            close(fd)
            stderrDone.leave()
        }
    }

    /// Writes all of `bytes` to the child's stdin.
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        let fd = stdinFD
        let name = executable
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                var offset = 0
                while offset < bytes.count {
                    let count = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                    if count < 0 {
                        if errno == EINTR { continue }
                        continuation.resume(throwing: FileError("write to", path: name, errno: errno))
                        return
                    }
                    offset += count
                }
                continuation.resume()
            }
        }
    }

    /// Closes the child's stdin (end of input).
    public func closeInput() async {
        let fd = stdinFD
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { [self] in
                if !inputClosed {
                    inputClosed = true
                    close(fd)
                }
                continuation.resume()
            }
        }
    }

    /// The child's stdout in pieces of at most `pieceSize` bytes, until it closes it. Read on
    /// demand: the next piece is read only when the consumer asks for it, so a consumer slower
    /// than the child (compressing, encrypting, uploading) holds one piece, never a backlog, and
    /// the child waits on the full pipe.
    public func output(pieceSize: Int = 1 << 20) -> AsyncThrowingStream<[UInt8], any Error> {
        let reader = PipeReader(fd: stdoutFD, pieceSize: pieceSize)
        return AsyncThrowingStream(unfolding: { await reader.next() })
    }

    /// Waits for the child to exit; returns its status and the end of what it wrote to stderr.
    public func wait() async -> (status: Int32, stderr: String) {
        await closeInput()
        let pid = self.pid
        let status = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: clinux_wait(pid)) }
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            stderrDone.notify(queue: .global()) { continuation.resume() }
        }
        return (status, stderrBox.text)
    }

    /// Kills the child (on an error elsewhere in the pipeline).
    public func terminate() {
        kill(pid, SIGKILL)
    }
}

/// Reads a pipe a piece at a time on a global queue (a blocking read must not hold a thread of
/// the cooperative pool); closes it at the end, or when dropped before the end.
private final class PipeReader: @unchecked Sendable {
    private let fd: Int32
    private let pieceSize: Int
    private let lock = NSLock()
    private var closed = false

    init(fd: Int32, pieceSize: Int) {
        self.fd = fd
        self.pieceSize = pieceSize
    }

    deinit { closeOnce() }

    func next() async -> [UInt8]? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { [self] in
                var buffer = [UInt8](repeating: 0, count: pieceSize)
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count > 0 {
                        buffer.removeSubrange(count...)
                        return continuation.resume(returning: buffer)
                    }
                    if count < 0 && errno == EINTR { continue }
                    closeOnce()
                    return continuation.resume(returning: nil)
                }
            }
        }
    }

    private func closeOnce() {
        lock.lock()
        defer { lock.unlock() }
        if !closed {
            closed = true
            close(fd)
        }
    }
}

/// The last 8 KB a child wrote to stderr.
private final class ErrorBox: @unchecked Sendable {
    private var bytes: [UInt8] = []
    private let lock = NSLock()

    func append(_ more: ArraySlice<UInt8>) {
        lock.lock()
        bytes.append(contentsOf: more)
        if bytes.count > 8192 { bytes.removeFirst(bytes.count - 8192) }
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
