@testable import BranchDiff
import Foundation
import Testing

/// Heap pages built by hand: a header, line pointers, and tuples with the fields the comparison reads.
@Suite("Heap page comparison")
struct HeapPagesTests {
    struct Tuple {
        var xmin: UInt32
        var xmax: UInt32 = 0
        var infomask: UInt16 = 0x0800  // no deleter
        var payload: [UInt8] = [1, 2, 3, 4]
    }

    /// A page with these tuples at line pointers 1, 2, …, stored from the end of the page down,
    /// after `gap` bytes of free space at the end (where a tuple sits does not change the row).
    static func page(_ tuples: [Tuple], lsn: UInt64 = 1, gap: Int = 0) -> [UInt8] {
        var page = [UInt8](repeating: 0, count: HeapPages.pageSize)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes in for (index, byte) in bytes.enumerated() { page[offset + index] = byte } }
        }
        put(lsn, at: 0)
        var upper = HeapPages.pageSize - gap / 8 * 8
        for (index, tuple) in tuples.enumerated() {
            let length = 24 + tuple.payload.count
            upper -= (length + 7) / 8 * 8
            put(tuple.xmin, at: upper)
            put(tuple.xmax, at: upper + 4)
            put(UInt16(index + 1), at: upper + 16)
            put(tuple.infomask, at: upper + 20)
            page[upper + 22] = 24
            for (offset, byte) in tuple.payload.enumerated() { page[upper + 24 + offset] = byte }
            put(UInt32(upper) | (1 << 15) | (UInt32(length) << 17), at: 24 + index * 4)
        }
        put(UInt16(24 + tuples.count * 4), at: 12)
        put(UInt16(upper), at: 14)
        put(UInt16(HeapPages.pageSize), at: 16)
        put(UInt16(0x2004), at: 18)
        return page
    }

    /// A commit log where the listed transactions have the given status (others: in progress).
    static func log(_ statuses: [UInt32: CommitLog.Status]) -> CommitLog {
        var segment = [UInt8](repeating: 0, count: 8192)
        for (xid, status) in statuses { segment[Int(xid) / 4] |= status.rawValue << UInt8((Int(xid) % 4) * 2) }
        return CommitLog(segments: [0: segment])
    }

    func same(_ a: [UInt8], _ b: [UInt8], _ first: CommitLog, _ second: CommitLog) -> Bool {
        a.withUnsafeBytes { left in b.withUnsafeBytes { right in HeapPages.sameRows(left, right, first, second) } }
    }

    @Test("the commit log is read two bits per transaction")
    func commitLog() {
        let log = Self.log([5: .committed, 6: .aborted, 7: .subcommitted, 8: .committed])
        #expect(log.status(5) == .committed && log.status(6) == .aborted && log.status(7) == .subcommitted && log.status(8) == .committed)
        #expect(log.status(9) == .inProgress)
        #expect(log.status(3_000_000) == .inProgress, "a segment that does not exist")
    }

    @Test("identical rows with the same visibility are the same, whatever the LSN and hint bits")
    func sameRows() {
        let log = Self.log([10: .committed, 11: .committed])
        let plain = Self.page([Tuple(xmin: 10), Tuple(xmin: 11, xmax: 0)], lsn: 1)
        var hinted = Self.page([Tuple(xmin: 10, infomask: 0x0900), Tuple(xmin: 11, infomask: 0x0900)], lsn: 99)
        let equal = same(plain, hinted, log, log)
        #expect(equal)
        hinted[HeapPages.pageSize - 8] ^= 1  // the first byte of the first tuple's data
        let stillEqual = same(plain, hinted, log, log)
        #expect(!stillEqual)
    }

    @Test("a transaction committed on one side only makes an identical page differ")
    func inFlightAtTheBranch() {
        let page = Self.page([Tuple(xmin: 10), Tuple(xmin: 12)])
        let parent = Self.log([10: .committed, 12: .committed])
        let branch = Self.log([10: .committed])  // 12 was in flight when the branch was taken
        #expect(!same(page, page, parent, branch))
        #expect(same(page, page, parent, parent))
        // Aborted and never finished are both invisible: the same.
        #expect(same(page, page, Self.log([10: .committed, 12: .aborted]), branch))
        // A hint bit settles it on both sides, whatever the logs say.
        let hinted = Self.page([Tuple(xmin: 10), Tuple(xmin: 12, infomask: 0x0900)])
        #expect(same(hinted, hinted, parent, branch))
    }

    @Test("an all-visible page identical on both sides is the same without looking at commit statuses")
    func allVisible() {
        var page = Self.page([Tuple(xmin: 12)])
        page[10] |= 0x04  // PD_ALL_VISIBLE
        let disagree = same(page, page, Self.log([12: .committed]), Self.log([:]))
        #expect(disagree)
    }

    @Test("deleters are compared too; locks are not deletes; multixacts and subtransactions count as different")
    func deleters() {
        let deleted = Self.page([Tuple(xmin: 10, xmax: 20, infomask: 0)])
        #expect(!same(deleted, deleted, Self.log([10: .committed, 20: .committed]), Self.log([10: .committed])))
        let locked = Self.page([Tuple(xmin: 10, xmax: 20, infomask: 0x0080)])
        #expect(same(locked, locked, Self.log([10: .committed, 20: .committed]), Self.log([10: .committed])))
        let multi = Self.page([Tuple(xmin: 10, xmax: 20, infomask: 0x1000)])
        #expect(!same(multi, multi, Self.log([10: .committed]), Self.log([10: .committed])))
        let sub = Self.page([Tuple(xmin: 30)])
        #expect(!same(sub, sub, Self.log([30: .subcommitted]), Self.log([30: .subcommitted])))
    }

    func differing(_ a: [UInt8], _ b: [UInt8], _ log: CommitLog) -> (first: [UInt16], second: [UInt16]) {
        a.withUnsafeBytes { left in b.withUnsafeBytes { right in HeapPages.differingTuples(left, right, log, log) } }
    }

    @Test("on a page that differs only the tuples that differ are candidates, wherever on the page they are stored")
    func differingTuples() {
        let log = Self.log([10: .committed, 11: .committed, 12: .committed])
        let before = Self.page([Tuple(xmin: 10), Tuple(xmin: 10, payload: [5, 6]), Tuple(xmin: 11)])
        // The second row updated: its old version deleted in place, the new one appended.
        let after = Self.page(
            [Tuple(xmin: 10), Tuple(xmin: 10, xmax: 12, infomask: 0, payload: [5, 6]), Tuple(xmin: 11), Tuple(xmin: 12, payload: [5, 7])],
            gap: 64)
        let found = differing(before, after, log)
        #expect(found.first == [2])
        #expect(found.second == [2, 4])
        // The same tuples stored elsewhere on the page (after a compaction): nothing differs.
        let moved = differing(before, Self.page([Tuple(xmin: 10), Tuple(xmin: 10, payload: [5, 6]), Tuple(xmin: 11)], gap: 200), log)
        #expect(moved.first.isEmpty && moved.second.isEmpty)
        // A new page against a page with rows: every tuple of the page, on its side only.
        let empty = [UInt8](repeating: 0, count: HeapPages.pageSize)
        let fresh = differing(empty, before, log)
        #expect(fresh.first.isEmpty && fresh.second == [1, 2, 3])
    }

    @Test("a page that is not a well-formed heap page makes every line pointer a candidate on both sides")
    func malformed() {
        let log = Self.log([10: .committed])
        let good = Self.page([Tuple(xmin: 10)])
        var bad = good
        bad[12] = 3  // pd_lower below the header
        bad[13] = 0
        let found = differing(good, bad, log)
        #expect(found.first.count == 291 && found.second.count == 291)
    }

    @Test("tuples of pages only one side has, and tuples that differ, are candidates; a limit gives up")
    func candidates() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("heap-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = Self.log([10: .committed, 11: .committed])
        let one = Self.page([Tuple(xmin: 10)])
        let two = Self.page([Tuple(xmin: 11)])
        try Data(one + one + one).write(to: URL(fileURLWithPath: "\(directory)/a"))
        try Data(one + two + one + one).write(to: URL(fileURLWithPath: "\(directory)/b"))
        let found = try #require(
            try await HeapPages.candidates(firstFile: "\(directory)/a", secondFile: "\(directory)/b", firstLog: log, secondLog: log, limit: 10))
        #expect(found.first == [HeapPages.TupleID(block: 1, offset: 1)])
        #expect(found.second == [HeapPages.TupleID(block: 1, offset: 1), HeapPages.TupleID(block: 3, offset: 1)])
        #expect(found.pagesRead == 7 && found.pagesSkipped == 0)
        let limited = try await HeapPages.candidates(firstFile: "\(directory)/a", secondFile: "\(directory)/b", firstLog: log, secondLog: log, limit: 2)
        #expect(limited == nil)
        let missing = try await HeapPages.candidates(
            firstFile: "\(directory)/a", secondFile: "\(directory)/missing", firstLog: log, secondLog: log, limit: 10)
        #expect(missing == nil)
    }

    @Test("a cancelled comparison stops with CancellationError instead of reading on")
    func cancelled() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("heap-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = Self.log([10: .committed])
        let page = Self.page([Tuple(xmin: 10)])
        try Data(page + page).write(to: URL(fileURLWithPath: "\(directory)/a"))
        try Data(page + page).write(to: URL(fileURLWithPath: "\(directory)/b"))
        let comparison = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await HeapPages.candidates(firstFile: "\(directory)/a", secondFile: "\(directory)/b", firstLog: log, secondLog: log, limit: 10)
        }
        await #expect(throws: CancellationError.self) { try await comparison.value }
    }

    @Test("the commit log is read from pg_xact's segment files")
    func commitLogFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("xact-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(directory)/pg_xact", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var first = [UInt8](repeating: 0, count: 8192)
        first[1] = 0b01_00_00_10  // xid 4 aborted, xid 7 committed
        var second = [UInt8](repeating: 0, count: 8192)
        second[0] = 0b01  // the first xid of segment 1 committed
        try Data(first).write(to: URL(fileURLWithPath: "\(directory)/pg_xact/0000"))
        try Data(second).write(to: URL(fileURLWithPath: "\(directory)/pg_xact/0001"))
        try Data([0xFF]).write(to: URL(fileURLWithPath: "\(directory)/pg_xact/not-a-segment"))
        let log = try await CommitLog(dataDirectory: directory)
        #expect(log.status(4) == .aborted && log.status(7) == .committed && log.status(5) == .inProgress)
        #expect(log.status(CommitLog.transactionsPerSegment) == .committed)
        #expect(log.segments.count == 2)
        await #expect(throws: (any Error).self) { try await CommitLog(dataDirectory: "\(directory)/none") }
    }
}
