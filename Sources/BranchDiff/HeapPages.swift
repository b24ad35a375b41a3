import CLinux
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The commit status of transactions, read from a data directory's `pg_xact` (2 bits per
/// transaction id, four per byte, 32 pages of 8 KB per segment file).
public struct CommitLog: Sendable {
    public enum Status: UInt8, Sendable { case inProgress = 0, committed = 1, aborted = 2, subcommitted = 3 }

    static let transactionsPerSegment: UInt32 = 32 * 8192 * 4
    var segments: [UInt32: [UInt8]]

    public init(segments: [UInt32: [UInt8]]) { self.segments = segments }

    /// Reads every segment of `<dataDirectory>/pg_xact` (a few hundred KB per million transactions).
    public init(dataDirectory: String) throws {
        let directory = "\(dataDirectory)/pg_xact"
        var segments: [UInt32: [UInt8]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            guard let number = UInt32(name, radix: 16), let data = FileManager.default.contents(atPath: "\(directory)/\(name)") else { continue }
            segments[number] = [UInt8](data)
        }
        self.segments = segments
    }

    public func status(_ xid: UInt32) -> Status {
        let segment = xid / Self.transactionsPerSegment
        let offset = Int(xid % Self.transactionsPerSegment)
        guard let bytes = segments[segment], offset / 4 < bytes.count else { return .inProgress }
        return Status(rawValue: (bytes[offset / 4] >> UInt8((offset % 4) * 2)) & 3)!
    }
}

/// Finds the heap tuples of one table that may hold different rows on two copies of a cluster that
/// share an ancestor (a branch and its parent, a branch and a snapshot): on pages whose bytes
/// differ, the tuples that differ or that one side has and the other has not; every tuple of a page
/// only one side has; and identical tuples whose visibility could still differ because their
/// inserting or deleting transaction has another commit status on each side (e.g. in flight when
/// the branch was taken, committed later on the parent only). A tuple identical on both sides,
/// with the same visibility, is the same row on both sides (or invisible on both), so only the
/// candidates need to be asked for: an updated row is its old version on one side and its new
/// version on the other, not the sixty rows sharing its page.
///
/// Only meaningful after a `CHECKPOINT` that followed the reading transaction's snapshot on both
/// servers, so every change that snapshot sees is in the files.
public enum HeapPages {
    public static let pageSize = 8192
    static let pagesPerSegmentFile = 131_072  // 1 GB files

    /// A tuple's address, as Postgres's `ctid`: block number and line pointer (from 1).
    public struct TupleID: Hashable, Comparable, Sendable, CustomStringConvertible {
        public var block: UInt32
        public var offset: UInt16

        public init(block: UInt32, offset: UInt16) {
            self.block = block
            self.offset = offset
        }

        public static func < (a: TupleID, b: TupleID) -> Bool { (a.block, a.offset) < (b.block, b.offset) }
        /// The `tid` literal.
        public var description: String { "(\(block),\(offset))" }
    }

    /// What comparing two files found: the tuples to read on each side (in order), and how many
    /// pages were read and compared or skipped unread.
    public struct Candidates: Sendable {
        public var first: [TupleID]
        public var second: [TupleID]
        public var pagesRead: Int
        public var pagesSkipped: Int
    }

    /// Tuples to read on each side, or nil when more than `limit` tuples in all may differ (then
    /// comparing by checksums is cheaper) or a file cannot be read.
    public static func candidates(
        firstFile: String, secondFile: String, firstLog: CommitLog, secondLog: CommitLog, limit: Int
    ) -> Candidates? {
        guard let first = SegmentedFile(firstFile), let second = SegmentedFile(secondFile) else { return nil }
        defer {
            first.close()
            second.close()
        }
        let total = max(first.blockCount, second.blockCount)
        // Blocks stored in the same extents in both files were not written on either side since
        // the snapshot that shares them; all-visible ones need not even be read.
        let skipped = unchangedAllVisible(first, second, visibility: VisibilityMap(path: firstFile + "_vm"))
        var onFirst: [TupleID] = []
        var onSecond: [TupleID] = []
        let chunkPages = 128
        var left = [UInt8](repeating: 0, count: chunkPages * pageSize)
        var right = [UInt8](repeating: 0, count: chunkPages * pageSize)
        // An all-zero page (Postgres's new page, no line pointers) for a page only one side has.
        let empty = [UInt8](repeating: 0, count: pageSize)
        var block = 0
        var nextSkip = 0
        var pagesRead = 0
        var pagesSkipped = 0
        while block < total {
            // The next run of blocks to read: up to the next skipped range, at most a chunk.
            while nextSkip < skipped.count, skipped[nextSkip].upperBound <= block { nextSkip += 1 }
            if nextSkip < skipped.count, skipped[nextSkip].contains(block) {
                pagesSkipped += min(skipped[nextSkip].upperBound, total) - block
                block = skipped[nextSkip].upperBound
                continue
            }
            var pages = min(chunkPages, total - block)
            if nextSkip < skipped.count { pages = min(pages, skipped[nextSkip].lowerBound - block) }
            guard let leftPages = first.read(block, pages: pages, into: &left),
                let rightPages = second.read(block, pages: pages, into: &right)
            else { return nil }
            pagesRead += leftPages + rightPages
            left.withUnsafeBytes { l in
                right.withUnsafeBytes { r in
                    empty.withUnsafeBytes { emptyPage in
                        for index in 0..<min(pages, max(leftPages, rightPages)) {
                            let number = UInt32(block + index)
                            let range = (index * pageSize)..<((index + 1) * pageSize)
                            // A page only one side has: as if the other side's were empty.
                            let a = index < leftPages ? UnsafeRawBufferPointer(rebasing: l[range]) : emptyPage
                            let b = index < rightPages ? UnsafeRawBufferPointer(rebasing: r[range]) : emptyPage
                            let found = differingTuples(a, b, firstLog, secondLog)
                            onFirst += found.first.map { TupleID(block: number, offset: $0) }
                            onSecond += found.second.map { TupleID(block: number, offset: $0) }
                        }
                    }
                }
            }
            if onFirst.count + onSecond.count > limit { return nil }
            block += pages
        }
        return Candidates(first: onFirst, second: onSecond, pagesRead: pagesRead, pagesSkipped: pagesSkipped * 2)
    }

    /// Ranges of blocks whose 8 KB are the same physical bytes in both files (FIEMAP: the same
    /// extent at the same offset, neither compressed, inline nor still in memory) and that the
    /// visibility map marks all-visible: identical pages whose every tuple is visible to all.
    static func unchangedAllVisible(_ first: SegmentedFile, _ second: SegmentedFile, visibility: VisibilityMap?) -> [Range<Int>] {
        guard let visibility else { return [] }
        var result: [Range<Int>] = []
        for segment in 0..<min(first.segmentCount, second.segmentCount) {
            guard let a = first.extents(segment: segment), let b = second.extents(segment: segment) else { continue }
            let base = segment * pagesPerSegmentFile
            var (i, j) = (0, 0)
            while i < a.count && j < b.count {
                let x = a[i]
                let y = b[j]
                let low = max(x.logical, y.logical)
                let high = min(x.logical + x.length, y.logical + y.length)
                if low < high && x.physical &- x.logical == y.physical &- y.logical && usable(x.flags) && usable(y.flags) {
                    // Whole pages inside the shared bytes.
                    let firstPage = Int((low + UInt64(pageSize) - 1) / UInt64(pageSize))
                    let endPage = Int(high / UInt64(pageSize))
                    var page = firstPage
                    while page < endPage {
                        let start = page
                        while page < endPage && visibility.allVisible(base + page) { page += 1 }
                        if page > start { append(base + start..<base + page, to: &result) }
                        page += 1
                    }
                }
                if x.logical + x.length <= y.logical + y.length { i += 1 } else { j += 1 }
            }
        }
        return result
    }

    private static func append(_ range: Range<Int>, to ranges: inout [Range<Int>]) {
        if let last = ranges.last, last.upperBound == range.lowerBound {
            ranges[ranges.count - 1] = last.lowerBound..<range.upperBound
        } else {
            ranges.append(range)
        }
    }

    /// Not unknown (0x2), delayed (0x4), encoded (0x8), encrypted (0x80), unaligned (0x100),
    /// inline (0x200), tail-packed (0x400) or unwritten (0x800): its physical address is its bytes.
    static func usable(_ flags: UInt32) -> Bool { flags & 0xF8E == 0 }

    /// Whether two versions of a page hold the same rows with the same visibility.
    static func sameRows(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ first: CommitLog, _ second: CommitLog) -> Bool {
        let found = differingTuples(a, b, first, second)
        return found.first.isEmpty && found.second.isEmpty
    }

    /// The line pointers (from 1) of the tuples on two versions of a page that may hold different
    /// rows or the same row with another visibility, per side. Bytes that do not change what a
    /// reader sees may differ: the page header's LSN, checksum, flags and prune hint, free space,
    /// where on the page a tuple is stored, and the hint bits of each tuple (set by whoever read
    /// it first on that side). A tuple's visibility is compared through its inserting and
    /// deleting transactions, which must have the same effective status on both sides, from hint
    /// bits where set, else from each side's commit log. A page that cannot be parsed gives every
    /// line pointer it could have: Postgres then decides what is on it.
    static func differingTuples(
        _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, _ first: CommitLog, _ second: CommitLog
    ) -> (first: [UInt16], second: [UInt16]) {
        guard a.count == pageSize, b.count == pageSize else { return (everyLinePointer, everyLinePointer) }
        // Byte-identical and all-visible (PD_ALL_VISIBLE: every tuple visible to every
        // transaction, so no commit status to look up): the same rows, without a walk of its tuples.
        let flags = a.loadUnaligned(fromByteOffset: 10, as: UInt16.self)
        if flags & 0x0004 != 0 && memcmp(a.baseAddress!, b.baseAddress!, pageSize) == 0 { return ([], []) }
        guard let left = linePointers(a) else { return (everyLinePointer, everyLinePointer) }
        guard let right = linePointers(b) else { return (everyLinePointer, everyLinePointer) }
        var onFirst: [UInt16] = []
        var onSecond: [UInt16] = []
        for index in 0..<max(left.count, right.count) {
            let offset = UInt16(index + 1)
            let x = index < left.count ? left[index] : nil
            let y = index < right.count ? right[index] : nil
            switch (x, y) {
            case (nil, nil): continue
            case (.some, nil): onFirst.append(offset)
            case (nil, .some): onSecond.append(offset)
            case let (.some(x), .some(y)):
                if !sameTuple(a, x, b, y, first, second) {
                    onFirst.append(offset)
                    onSecond.append(offset)
                }
            }
        }
        return (onFirst, onSecond)
    }

    /// Every line pointer a heap page can have (MaxHeapTuplesPerPage for 8 KB pages).
    static let everyLinePointer = (1...UInt16(291)).map { $0 }

    /// Position and length of the tuple of each line pointer (nil for redirects, dead and unused
    /// ones: they hold no tuple), or nil when the page is not a well-formed heap page. An all-zero
    /// page (new) has none.
    static func linePointers(_ page: UnsafeRawBufferPointer) -> [(position: Int, length: Int)?]? {
        let lower = Int(page.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
        let upper = Int(page.loadUnaligned(fromByteOffset: 14, as: UInt16.self))
        if lower == 0 && upper == 0 { return [] }
        guard lower >= 24, lower <= upper, upper <= pageSize, (lower - 24) % 4 == 0 else { return nil }
        var result: [(position: Int, length: Int)?] = []
        result.reserveCapacity((lower - 24) / 4)
        var offset = 24
        while offset < lower {
            let item = page.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            offset += 4
            guard (item >> 15) & 3 == 1 else {
                result.append(nil)
                continue
            }
            let position = Int(item & 0x7FFF)
            let length = Int(item >> 17)
            guard length >= 24, position >= upper, position + length <= pageSize else { return nil }
            result.append((position, length))
        }
        return result
    }

    /// Whether two tuples are the same row with the same visibility on their sides.
    static func sameTuple(
        _ a: UnsafeRawBufferPointer, _ x: (position: Int, length: Int), _ b: UnsafeRawBufferPointer, _ y: (position: Int, length: Int),
        _ first: CommitLog, _ second: CommitLog
    ) -> Bool {
        guard x.length == y.length else { return false }
        let maskA = a.loadUnaligned(fromByteOffset: x.position + 20, as: UInt16.self)
        let maskB = b.loadUnaligned(fromByteOffset: y.position + 20, as: UInt16.self)
        // xmin, xmax, command id, ctid and infomask2; the infomask without its hint bits; the rest.
        guard memcmp(a.baseAddress! + x.position, b.baseAddress! + y.position, 20) == 0,
            maskA & ~hintBits == maskB & ~hintBits,
            memcmp(a.baseAddress! + x.position + 22, b.baseAddress! + y.position + 22, x.length - 22) == 0
        else { return false }
        let xmin = a.loadUnaligned(fromByteOffset: x.position, as: UInt32.self)
        let xmax = a.loadUnaligned(fromByteOffset: x.position + 4, as: UInt32.self)
        guard let insertedA = inserter(xmin, maskA, first), let insertedB = inserter(xmin, maskB, second), insertedA == insertedB,
            let deletedA = deleter(xmax, maskA, first), let deletedB = deleter(xmax, maskB, second), deletedA == deletedB
        else { return false }
        return true
    }

    /// HEAP_XMIN_COMMITTED, HEAP_XMIN_INVALID, HEAP_XMAX_COMMITTED, HEAP_XMAX_INVALID.
    static let hintBits: UInt16 = 0x0F00

    /// Whether the inserting transaction counts as committed; nil when that cannot be told here.
    static func inserter(_ xid: UInt32, _ infomask: UInt16, _ log: CommitLog) -> Bool? {
        if infomask & 0x0100 != 0 { return true }  // committed, or frozen (both bits)
        if infomask & 0x0200 != 0 { return false }
        if xid < 3 { return true }  // bootstrap and frozen ids
        return committed(log.status(xid))
    }

    /// Whether the row counts as deleted by a committed transaction; nil when that cannot be told.
    static func deleter(_ xid: UInt32, _ infomask: UInt16, _ log: CommitLog) -> Bool? {
        if infomask & 0x0800 != 0 { return false }  // HEAP_XMAX_INVALID
        if infomask & 0x1000 != 0 { return nil }  // a multixact: its members are not read here
        // HEAP_XMAX_LOCK_ONLY, or an exclusive lock alone as servers before 9.3 wrote it: a lock, not a delete.
        if infomask & 0x0080 != 0 || infomask & (0x1000 | 0x0050) == 0x0040 { return false }
        if infomask & 0x0400 != 0 { return true }
        if xid == 0 { return false }
        return committed(log.status(xid))
    }

    /// In progress and aborted both leave a change invisible; a subtransaction's status depends on
    /// its parent, which is not looked up.
    static func committed(_ status: CommitLog.Status) -> Bool? {
        switch status {
        case .committed: true
        case .aborted, .inProgress: false
        case .subcommitted: nil
        }
    }
}

/// A relation's main fork: `path`, `path.1`, `path.2`… of 1 GB each, read by block number.
final class SegmentedFile {
    let path: String
    private var descriptors: [Int: Int32] = [:]

    init?(_ path: String) {
        self.path = path
        guard open(segment: 0) != nil else { return nil }
    }

    private func open(segment: Int) -> Int32? {
        if let descriptor = descriptors[segment] { return descriptor }
        let name = segment == 0 ? path : "\(path).\(segment)"
        let descriptor = Glibc.open(name, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        descriptors[segment] = descriptor
        return descriptor
    }

    /// Reads up to `pages` pages from `block` into `buffer`; the number of whole pages read (0 at
    /// the end), or nil on a read error.
    func read(_ block: Int, pages: Int, into buffer: inout [UInt8]) -> Int? {
        var done = 0
        while done < pages {
            let current = block + done
            let segment = current / HeapPages.pagesPerSegmentFile
            guard let descriptor = open(segment: segment) else { return done }
            let inSegment = min(pages - done, HeapPages.pagesPerSegmentFile - current % HeapPages.pagesPerSegmentFile)
            let wanted = inSegment * HeapPages.pageSize
            let offset = off_t((current % HeapPages.pagesPerSegmentFile) * HeapPages.pageSize)
            var got = 0
            while got < wanted {
                let count = buffer.withUnsafeMutableBytes { bytes in
                    pread(descriptor, bytes.baseAddress! + done * HeapPages.pageSize + got, wanted - got, offset + off_t(got))
                }
                if count < 0 {
                    if errno == EINTR { continue }
                    return nil
                }
                if count == 0 { break }
                got += count
            }
            done += got / HeapPages.pageSize
            if got < wanted { return done }
        }
        return done
    }

    func close() {
        for descriptor in descriptors.values { Glibc.close(descriptor) }
        descriptors = [:]
    }

    /// Segment files present: `path`, `path.1`, … without a gap.
    var segmentCount: Int {
        var count = 0
        while open(segment: count) != nil { count += 1 }
        return count
    }

    /// Whole pages in all segments.
    var blockCount: Int {
        var total = 0
        for segment in 0..<segmentCount {
            var info = stat()
            guard let descriptor = open(segment: segment), fstat(descriptor, &info) == 0 else { break }
            total += Int(info.st_size) / HeapPages.pageSize
        }
        return total
    }

    /// The extents of one segment file, or nil when the filesystem cannot say.
    func extents(segment: Int) -> [clinux_extent]? {
        guard let descriptor = open(segment: segment) else { return nil }
        var result: [clinux_extent] = []
        var start: UInt64 = 0
        var buffer = [clinux_extent](repeating: clinux_extent(), count: 512)
        while true {
            var count: UInt32 = 0
            var last: Int32 = 0
            guard clinux_fiemap(descriptor, start, &buffer, UInt32(buffer.count), &count, &last) == 0 else { return nil }
            result += buffer.prefix(Int(count))
            guard last == 0, count > 0, let final = result.last else { return result }
            start = final.logical + final.length
        }
    }
}

/// A relation's visibility map (`<file>_vm`): two bits per heap block, the first "all visible".
struct VisibilityMap {
    let bytes: [UInt8]
    static let blocksPerPage = (HeapPages.pageSize - 24) * 4

    init?(path: String) {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        bytes = [UInt8](data)
    }

    func allVisible(_ block: Int) -> Bool {
        let page = block / Self.blocksPerPage
        let inPage = block % Self.blocksPerPage
        let offset = page * HeapPages.pageSize + 24 + inPage / 4
        guard offset < bytes.count else { return false }
        return (bytes[offset] >> UInt8((inPage % 4) * 2)) & 1 == 1
    }
}
