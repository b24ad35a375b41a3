import BranchAPI
import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
public import ServiceLifecycle
import Synchronization
import Logging

/// A branch server's log files: `startup.log` (what is printed before the log collector runs)
/// and the collector's `postgresql-<timestamp>.log` files, rotated by size, oldest first.
enum LogFiles {
    static func rotated(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix("postgresql-") && $0.hasSuffix(".log") }
            .sorted()
    }

    /// Deletes all but the newest `keep` rotated files, and empties an oversized startup log.
    static func prune(_ directory: String, keep: Int, maxStartupBytes: UInt64) {
        for old in rotated(in: directory).dropLast(keep) { try? FileManager.default.removeItem(atPath: "\(directory)/\(old)") }
        let startup = "\(directory)/startup.log"
        if let size = (try? FileManager.default.attributesOfItem(atPath: startup))?[.size] as? UInt64, size > maxStartupBytes {
            truncate(startup, 0)
        }
    }

    /// Every log file of the branch, oldest first.
    static func all(in directory: String) -> [String] {
        let startup = Files.exists("\(directory)/startup.log") ? ["startup.log"] : []
        return (startup + rotated(in: directory)).map { "\(directory)/\($0)" }
    }

    /// The last `count` lines across the files (reading at most the last 4 MB of each).
    static func tail(in directory: String, lines count: Int) -> String {
        var lines: [Substring] = []
        for file in all(in: directory).reversed() where lines.count < count {
            guard let handle = FileHandle(forReadingAtPath: file) else { continue }
            defer { try? handle.close() }
            let size = (try? handle.seekToEnd()) ?? 0
            let start = size > 4 << 20 ? size - (4 << 20) : 0
            try? handle.seek(toOffset: start)
            let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
            var fileLines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if fileLines.last == "" { fileLines.removeLast() }
            if start > 0 && !fileLines.isEmpty { fileLines.removeFirst() }  // a partial first line
            lines.insert(contentsOf: fileLines.suffix(count - lines.count), at: 0)
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }
}

extension Engine {
    /// The last lines of a branch server's log, and, with `follow`, a stream of what is written
    /// next (polled every 250 ms, across rotations) until the consumer goes away.
    public func logs(project projectName: String, branch name: String, lines: Int, follow: Bool) async throws -> AsyncStream<String> {
        let branch = try await catalog.read { tx in
            let project = try self.requireProject(projectName, in: tx)
            return try self.requireBranch(project.name, name, in: tx, ready: false)
        }
        let directory = layout.logDirectory(branch.project, branch.name)
        let initial = LogFiles.tail(in: directory, lines: max(0, min(lines, 100_000)))
        return AsyncStream { continuation in
            continuation.yield(initial)
            guard follow else {
                continuation.finish()
                return
            }
            let task = Task {
                var offsets: [String: UInt64] = [:]
                for file in LogFiles.all(in: directory) { offsets[file] = Self.size(of: file) }
                while !Task.isCancelled && !self.streamsClosed.isClosed {
                    try? await Task.sleep(for: .milliseconds(250))
                    for file in LogFiles.all(in: directory) {
                        let size = Self.size(of: file)
                        let offset = offsets[file] ?? 0
                        if size < offset { offsets[file] = 0 }  // truncated
                        guard size > (offsets[file] ?? 0), let handle = FileHandle(forReadingAtPath: file) else { continue }
                        try? handle.seek(toOffset: offsets[file] ?? 0)
                        let data = (try? handle.read(upToCount: Int(size - (offsets[file] ?? 0)))) ?? Data()
                        try? handle.close()
                        offsets[file] = (offsets[file] ?? 0) + UInt64(data.count)
                        if !data.isEmpty { continuation.yield(String(decoding: data, as: UTF8.self)) }
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func size(of file: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? UInt64) ?? 0
    }
}

/// Ends every open log stream when the service begins to shut down, so the HTTP server is not
/// kept waiting by clients following logs.
final class StreamGate: Sendable {
    private let closed = Mutex(false)
    var isClosed: Bool { closed.withLock { $0 } }
    func close() { closed.withLock { $0 = true } }
}

/// Closes log streams at the start of a graceful shutdown (it is listed after the HTTP server,
/// so it is told first).
public struct StreamCloserService: Service {
    let engine: Engine

    public init(engine: Engine) { self.engine = engine }

    public func run() async throws {
        try? await gracefulShutdown()
        engine.streamsClosed.close()
    }
}
