import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import ServiceLifecycle
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

    static func size(of file: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? UInt64) ?? 0
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

extension Observability {
    /// The last lines of a branch server's log, and, with `follow`, what is written next (polled
    /// every 250 ms, across rotations), read as the consumer asks for it, until it goes away or
    /// the service shuts down.
    package func logs(project projectName: String, branch name: String, lines: Int, follow: Bool) async throws -> LogStream {
        let branch = try await catalog.read { tx in
            let project = try tx.requireProject(projectName)
            return try tx.requireBranch(project.name, name, ready: false)
        }
        let directory = layout.logDirectory(branch.project, branch.name)
        return LogStream(directory: directory, lines: max(0, min(lines, 100_000)), follow: follow, closed: context.streamsClosed)
    }
}

/// A branch server's log: its last lines, then (when following) what is appended.
package struct LogStream: AsyncSequence, Sendable {
    package typealias Element = String
    let directory: String
    let lines: Int
    let follow: Bool
    let closed: StreamGate

    package func makeAsyncIterator() -> Iterator { Iterator(stream: self) }

    package struct Iterator: AsyncIteratorProtocol {
        let stream: LogStream
        var started = false
        var offsets: [String: UInt64] = [:]

        package mutating func next() async -> String? {
            if !started {
                started = true
                for file in LogFiles.all(in: stream.directory) { offsets[file] = LogFiles.size(of: file) }
                return LogFiles.tail(in: stream.directory, lines: stream.lines)
            }
            guard stream.follow else { return nil }
            while !Task.isCancelled && !stream.closed.isClosed {
                try? await Task.sleep(for: .milliseconds(250))
                var text = ""
                for file in LogFiles.all(in: stream.directory) {
                    let size = LogFiles.size(of: file)
                    if size < offsets[file] ?? 0 { offsets[file] = 0 }  // truncated
                    let offset = offsets[file] ?? 0
                    guard size > offset, let handle = FileHandle(forReadingAtPath: file) else { continue }
                    try? handle.seek(toOffset: offset)
                    let data = (try? handle.read(upToCount: Int(size - offset))) ?? Data()
                    try? handle.close()
                    offsets[file] = offset + UInt64(data.count)
                    text += String(decoding: data, as: UTF8.self)
                }
                if !text.isEmpty { return text }
            }
            return nil
        }
    }
}

/// Closes the open streams (log follows, diffs, exports) at the start of a graceful shutdown (it
/// is listed after the HTTP server, so it is told first).
package struct StreamCloserService: Service {
    let context: EngineContext

    package func run() async throws {
        try? await gracefulShutdown()
        context.streamsClosed.close()
    }
}
