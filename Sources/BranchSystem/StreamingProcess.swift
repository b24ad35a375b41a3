import CLinux
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process whose standard input and output are streamed, for data too large to hold:
/// `btrfs send` into a backup, a backup into `btrfs receive`, `pg_dump` into an HTTP response.
/// Blocking reads and writes run on their own threads (Dispatch or a reader thread), never on
/// Swift's cooperative pool.
package final class StreamingProcess: @unchecked Sendable {
    package let pid: Int32
    package let executable: String
    private let stdinFD: Int32
    private let stdoutFD: Int32
    private let stderrFD: Int32
    private let queue = DispatchQueue(label: "branch.streaming-process.stdin")
    private let stderrBox = ErrorBox()
    private let stderrDone = DispatchGroup()
    private var inputClosed = false

    /// The capacity asked for the stdin pipe: the default pipe-max-size.
    static let inputPipeSize: Int32 = 1 << 20

    /// Starts `executable` with a pipe on each of stdin, stdout and stderr.
    package init(_ executable: String, _ arguments: [String], environment: [String: String] = Command.baseEnvironment) throws {
        let path = executable.hasPrefix("/") ? executable : (Command.which(executable) ?? executable)
        self.executable = (path as NSString).lastPathComponent
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        var errors: [Int32] = [0, 0]
        for index in 0..<3 {
            let result = index == 0 ? clinux_pipe(&input) : index == 1 ? clinux_pipe(&output) : clinux_pipe(&errors)
            guard result == 0 else { throw FileError("create a pipe for", path: path, errno: result) }
        }
        let (pid, spawned) = spawnProcess(path, arguments, environment, stdin: input[0], stdout: output[1], stderr: errors[1])
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
        // A wider stdin pipe lets a write return while the child is still busy with the one
        // before (btrfs receive writing to disk while the next piece is decrypted); best effort.
        _ = clinux_pipe_resize(input[1], Self.inputPipeSize)
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
    package func write(_ bytes: [UInt8]) async throws {
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
    package func closeInput() async {
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

    /// The child's stdout in pieces of at most `pieceSize` bytes, until it closes it. A reader
    /// thread stays at most `readAhead` pieces ahead of the consumer: the child's disk reads
    /// overlap the consumer's work (compressing, encrypting, uploading) instead of alternating
    /// with it, and a slower consumer still holds a bounded backlog while the child waits on the
    /// full pipe. The pipe is widened to one piece (within pipe-max-size), so a read returns a
    /// whole piece rather than the default 64 KiB.
    package func output(pieceSize: Int = 1 << 20, readAhead: Int = 4) -> AsyncThrowingStream<[UInt8], any Error> {
        _ = clinux_pipe_resize(stdoutFD, Int32(clamping: pieceSize))
        let reader = PipeReader(fd: stdoutFD, pieceSize: pieceSize, readAhead: readAhead)
        return AsyncThrowingStream(unfolding: { await reader.next() })
    }

    /// Waits for the child to exit; returns its status and the end of what it wrote to stderr.
    package func wait() async -> (status: Int32, stderr: String) {
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
    package func terminate() {
        kill(pid, SIGKILL)
    }

    /// Kills the child and reaps it on a thread of its own, for a consumer that stops reading
    /// early and will not `wait()`.
    package func abandon() {
        terminate()
        let pid = self.pid
        DispatchQueue.global().async { _ = clinux_wait(pid) }
    }
}

/// The consumer's handle on a `PipeAhead`: dropping it (the stream was abandoned) stops the
/// reader thread, which then closes the pipe so the child's next write fails instead of blocking.
private final class PipeReader: Sendable {
    private let ahead: PipeAhead

    init(fd: Int32, pieceSize: Int, readAhead: Int) {
        ahead = PipeAhead(fd: fd, pieceSize: pieceSize, depth: max(1, readAhead))
        let ahead = self.ahead
        // Its own thread, not a Dispatch worker: it blocks in read(2) for the whole stream.
        Thread.detachNewThread { ahead.run() }
    }

    deinit { ahead.cancel() }

    func next() async -> [UInt8]? { await ahead.next() }
}

/// Pieces read from a pipe ahead of one consumer, at most `depth` of them; owned by the reader
/// thread, which alone reads and closes the descriptor.
private final class PipeAhead: @unchecked Sendable {
    private let fd: Int32
    private let pieceSize: Int
    private let depth: Int
    private let condition = NSCondition()
    private var ready: [[UInt8]] = []
    private var waiting: CheckedContinuation<[UInt8]?, Never>?
    private var ended = false
    private var cancelled = false

    init(fd: Int32, pieceSize: Int, depth: Int) {
        self.fd = fd
        self.pieceSize = pieceSize
        self.depth = depth
    }

    /// The reader thread's loop: read while fewer than `depth` pieces wait, hand each piece to a
    /// waiting consumer directly, close the pipe at its end or on cancel.
    func run() {
        defer { close(fd) }
        while true {
            condition.lock()
            while ready.count >= depth && !cancelled { condition.wait() }
            let stop = cancelled
            condition.unlock()
            if stop { return }
            let piece = readPiece()
            condition.lock()
            guard let piece, !cancelled else {
                ended = true
                let consumer = waiting
                waiting = nil
                condition.unlock()
                consumer?.resume(returning: nil)
                return
            }
            if let consumer = waiting {
                waiting = nil
                condition.unlock()
                consumer.resume(returning: piece)
            } else {
                ready.append(piece)
                condition.unlock()
            }
        }
    }

    /// One read(2) of up to a piece into a buffer that is not zero-filled first; nil at the end.
    private func readPiece() -> [UInt8]? {
        while true {
            var failure: Int32 = 0
            let piece = [UInt8](unsafeUninitializedCapacity: pieceSize) { buffer, initialized in
                let count = read(fd, buffer.baseAddress, buffer.count)
                initialized = max(count, 0)
                if count < 0 { failure = errno }
            }
            if !piece.isEmpty { return piece }
            if failure == EINTR { continue }
            return nil
        }
    }

    func next() async -> [UInt8]? {
        await withCheckedContinuation { continuation in
            condition.lock()
            if !ready.isEmpty {
                let piece = ready.removeFirst()
                condition.signal()
                condition.unlock()
                continuation.resume(returning: piece)
            } else if ended {
                condition.unlock()
                continuation.resume(returning: nil)
            } else {
                waiting = continuation
                condition.unlock()
            }
        }
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.signal()
        condition.unlock()
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
