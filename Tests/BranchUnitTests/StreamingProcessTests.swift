import BranchCore
import BranchSystem
import Crypto
import Foundation
import Testing

@Suite("Streaming a child's output")
struct StreamingProcessTests {
    /// One of the process table's state letters for `pid` (R, S, Z…), nil once it is reaped.
    func state(of pid: Int32) -> Character? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(close, offsetBy: 2)]
    }

    @Test("every byte arrives in order, in pieces no larger than asked for")
    func wholeStream() async throws {
        // 40 MiB of varied bytes: a reordered or dropped piece changes the digest.
        let script = #"i=1; while [ $i -le 40 ]; do c=$(printf '\\%03o' $i); head -c 1048576 /dev/zero | tr '\0' "$c"; i=$((i + 1)); done"#
        let child = try StreamingProcess("/bin/sh", ["-c", script])
        var hash = SHA256()
        var total = 0
        var largest = 0
        for try await piece in child.output(pieceSize: 256 << 10, readAhead: 3) {
            hash.update(data: piece)
            total += piece.count
            largest = max(largest, piece.count)
        }
        let (status, _) = await child.wait()
        #expect(status == 0)
        #expect(total == 40 << 20)
        #expect(largest <= 256 << 10)
        var expected = SHA256()
        for i in 0..<40 { expected.update(data: [UInt8](repeating: UInt8(i + 1), count: 1 << 20)) }
        #expect(hash.finalize() == expected.finalize())
    }

    @Test("a consumer that stops asking holds a bounded backlog: the child waits on the full pipe")
    func boundedReadAhead() async throws {
        let child = try StreamingProcess("/bin/sh", ["-c", "head -c 104857600 /dev/zero"])
        var pieces = child.output(pieceSize: 1 << 20, readAhead: 2).makeAsyncIterator()
        let first = try await pieces.next()
        #expect(first?.isEmpty == false)
        // At most 2 pieces ahead plus the pipe: far less than the 100 MiB the child has to write.
        try await Task.sleep(for: .milliseconds(500))
        #expect(state(of: child.pid).map { $0 != "Z" } == true, "the child finished although nobody read its output")
        var total = first?.count ?? 0
        while let piece = try await pieces.next() { total += piece.count }
        #expect(total == 100 << 20)
        #expect(await child.wait().status == 0)
    }

    @Test("an abandoned stream closes the pipe, so the child's next write fails instead of blocking")
    func abandoned() async throws {
        let child = try StreamingProcess("/usr/bin/yes", [])
        do {
            var pieces = child.output(pieceSize: 64 << 10, readAhead: 2).makeAsyncIterator()
            #expect(try await pieces.next()?.isEmpty == false)
        }
        let outcome = await withTaskGroup(of: Int32?.self) { group in
            group.addTask { await child.wait().status }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        if outcome == nil { child.terminate() }
        // yes dies of SIGPIPE (128 + 13) or exits on EPIPE.
        #expect(outcome != nil && outcome != 0, "yes kept running after its reader was dropped")
    }
}
