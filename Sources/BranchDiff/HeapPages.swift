import BranchStorage
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The commit status of transactions, read from a data directory's `pg_xact` (2 bits per
/// transaction id, four per byte, 32 pages of 8 KB per segment file).
package struct CommitLog: Sendable {
    package enum Status: UInt8, Sendable { case inProgress = 0, committed = 1, aborted = 2, subcommitted = 3 }

    static let transactionsPerSegment: UInt32 = 32 * 8192 * 4
    var segments: [UInt32: [UInt8]]

    package init(segments: [UInt32: [UInt8]]) { self.segments = segments }

    /// Reads every segment of `<dataDirectory>/pg_xact` (a few hundred KB per million transactions).
    package init(dataDirectory: String) async throws {
        let files = try await SmallFiles.readAll(in: "\(dataDirectory)/pg_xact") { UInt32($0, radix: 16) != nil }
        var segments: [UInt32: [UInt8]] = [:]
        for (name, bytes) in files {
            if let number = UInt32(name, radix: 16) { segments[number] = bytes }
        }
        self.segments = segments
    }

    package func status(_ xid: UInt32) -> Status {
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
package enum HeapPages {
    package static let pageSize = RelationFile.pageSize
    static let pagesPerSegmentFile = RelationFile.pagesPerSegment

    /// A tuple's address, as Postgres's `ctid`: block number and line pointer (from 1).
    package struct TupleID: Hashable, Comparable, Sendable, CustomStringConvertible {
        package var block: UInt32
        package var offset: UInt16

        package static func < (a: TupleID, b: TupleID) -> Bool { (a.block, a.offset) < (b.block, b.offset) }
        /// The `tid` literal.
        package var description: String { "(\(block),\(offset))" }
    }

    /// What comparing two files found: the tuples to read on each side (in order), and how many
    /// pages were read and compared or skipped unread.
    package struct Candidates: Sendable {
        package var first: [TupleID]
        package var second: [TupleID]
        package var pagesRead: Int
        package var pagesSkipped: Int
    }

    /// Tuples to read on each side, or nil when more than `limit` tuples in all may differ (then
    /// comparing by checksums is cheaper) or a file cannot be read. The files are read a run of
    /// pages at a time off the cooperative threads; a cancelled task stops between runs
    /// (`CancellationError`).
    package static func candidates(
        firstFile: String, secondFile: String, firstLog: CommitLog, secondLog: CommitLog, limit: Int
    ) async throws -> Candidates? {
        do {
            return try await RelationFile.withOpened(firstFile) { first in
                try await RelationFile.withOpened(secondFile) { second in
                    try await candidates(first, second, firstLog: firstLog, secondLog: secondLog, limit: limit)
                }
            }
        } catch is StorageError {
            return nil
        }
    }

    static func candidates(
        _ first: RelationFile, _ second: RelationFile, firstLog: CommitLog, secondLog: CommitLog, limit: Int
    ) async throws -> Candidates? {
        let total = max(first.blockCount, second.blockCount)
        // Blocks stored in the same extents in both files were not written on either side since
        // the snapshot that shares them; all-visible ones need not even be read.
        let skipped = await unchangedAllVisible(first, second, visibility: VisibilityMap(path: first.path + "_vm"))
        var onFirst: [TupleID] = []
        var onSecond: [TupleID] = []
        let chunkPages = 128
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
            try Task.checkCancellation()
            var pages = min(chunkPages, total - block)
            if nextSkip < skipped.count { pages = min(pages, skipped[nextSkip].lowerBound - block) }
            // Both sides at once, each on a thread of its own.
            let run = (block: block, pages: pages)
            async let leftRead = first.readPages(at: run.block, count: run.pages)
            async let rightRead = second.readPages(at: run.block, count: run.pages)
            let (left, right) = try await (leftRead, rightRead)
            let leftPages = left.count / pageSize
            let rightPages = right.count / pageSize
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
    static func unchangedAllVisible(_ first: RelationFile, _ second: RelationFile, visibility: VisibilityMap?) async -> [Range<Int>] {
        guard let visibility else { return [] }
        var result: [Range<Int>] = []
        for segment in 0..<min(first.segmentCount, second.segmentCount) {
            guard let a = try? await first.extentMap(segment: segment), let b = try? await second.extentMap(segment: segment) else { continue }
            let base = segment * pagesPerSegmentFile
            for shared in a.sharedRanges(with: b) {
                // Whole pages inside the shared bytes.
                let firstPage = Int((shared.lowerBound + UInt64(pageSize) - 1) / UInt64(pageSize))
                let endPage = Int(shared.upperBound / UInt64(pageSize))
                var page = firstPage
                while page < endPage {
                    let start = page
                    while page < endPage && visibility.allVisible(base + page) { page += 1 }
                    if page > start { append(base + start..<base + page, to: &result) }
                    page += 1
                }
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

/// A relation's visibility map (`<file>_vm`): two bits per heap block, the first "all visible".
struct VisibilityMap {
    let bytes: [UInt8]
    static let blocksPerPage = (HeapPages.pageSize - 24) * 4

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// The map at `path`, nil when it cannot be read (a relation without one yet).
    init?(path: String) async {
        guard let bytes = try? await SmallFiles.read(path) else { return nil }
        self.bytes = bytes
    }

    func allVisible(_ block: Int) -> Bool {
        let page = block / Self.blocksPerPage
        let inPage = block % Self.blocksPerPage
        let offset = page * HeapPages.pageSize + 24 + inPage / 4
        guard offset < bytes.count else { return false }
        return (bytes[offset] >> UInt8((inPage % 4) * 2)) & 1 == 1
    }
}
