import BranchCore
import BranchStorage
import BranchSystem
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// BranchStorage's file reading, on files written in a temporary directory (no root, any filesystem).
@Suite("Relation files, extent maps and small files")
struct RelationFileTests {
    let scratch: ScratchDirectory
    let directory: String

    init() throws {
        scratch = try ScratchDirectory("relation")
        directory = scratch.path
    }

    /// `count` pages, each filled with its number (mod 256) from `first` on.
    static func pages(_ count: Int, from first: Int = 0) -> [UInt8] {
        (0..<count).flatMap { [UInt8](repeating: UInt8((first + $0) % 256), count: RelationFile.pageSize) }
    }

    func write(_ bytes: [UInt8], to name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/\(name)"))
    }

    @Test("pages are read by block, whole pages only, fewer at the end and none past it")
    func readPages() async throws {
        // Three pages and half of a fourth (a partial page is not a page).
        try write(Self.pages(3) + [UInt8](repeating: 9, count: RelationFile.pageSize / 2), to: "16384")
        try await RelationFile.withOpened("\(directory)/16384") { file in
            #expect(file.blockCount == 3)
            #expect(file.segmentCount == 1)
            let middle = try await file.readPages(at: 1, count: 1)
            #expect(middle == Self.pages(1, from: 1))
            let all = try await file.readPages(at: 0, count: 10)
            #expect(all == Self.pages(3))
            let past = try await file.readPages(at: 7, count: 2)
            #expect(past.isEmpty)
        }
    }

    @Test("a read across the end of a 1 GB segment continues in the next segment file")
    func segments() async throws {
        // Segment 0 is a sparse 1 GB file (no disk space), segment 1 holds two pages.
        let first = "\(directory)/16385"
        _ = FileManager.default.createFile(atPath: first, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: first))
        try handle.truncate(atOffset: UInt64(RelationFile.pagesPerSegment * RelationFile.pageSize))
        try handle.close()
        try write(Self.pages(2, from: 1), to: "16385.1")
        // A gap ends the relation: segment 3 without a segment 2 is not read.
        try write(Self.pages(1), to: "16385.3")
        try await RelationFile.withOpened(first) { file in
            #expect(file.segmentCount == 2)
            #expect(file.blockCount == RelationFile.pagesPerSegment + 2)
            let across = try await file.readPages(at: RelationFile.pagesPerSegment - 1, count: 4)
            #expect(across == [UInt8](repeating: 0, count: RelationFile.pageSize) + Self.pages(2, from: 1))
        }
    }

    @Test("a missing relation file is not found")
    func missing() async throws {
        let error = await #expect(throws: StorageError.self) {
            try await RelationFile.withOpened("\(directory)/none") { _ in }
        }
        #expect(error?.code == .subvolumeNotFound)
    }

    @Test("the extent map covers the written file, or the filesystem says it cannot tell")
    func extentMap() async throws {
        try write(Self.pages(4), to: "16386")
        try await RelationFile.withOpened("\(directory)/16386") { file in
            do {
                let map = try await file.extentMap(segment: 0)
                // FIEMAP synced the file first, so its bytes have places on disk.
                #expect(!map.extents.isEmpty)
                #expect(map.extents.map(\.length).reduce(0, +) >= UInt64(4 * RelationFile.pageSize))
                #expect(map.sharedRanges(with: map) == map.extents.filter(\.isPlain).map { $0.logical..<($0.logical + $0.length) })
            } catch {
                // tmpfs and some others have no FIEMAP.
                let code = (error as? StorageError)?.errno
                #expect(code == EOPNOTSUPP || code == ENOTTY, "\(error)")
            }
            await #expect(throws: StorageError.self) { try await file.extentMap(segment: 1) }
        }
    }

    @Test("shared ranges: overlapping extents at the same physical shift, both plain, not merged")
    func sharedRanges() {
        typealias Extent = ExtentMap.Extent
        let a = ExtentMap(extents: [
            Extent(logical: 0, physical: 1_000_000, length: 16_384),
            Extent(logical: 16_384, physical: 5_000_000, length: 16_384),
            Extent(logical: 32_768, physical: 9_000_000, length: 16_384),
            Extent(logical: 49_152, physical: 7_000_000, length: 16_384),
        ])
        let b = ExtentMap(extents: [
            // Shares the first 12 KB of a's first extent, then a new extent of its own.
            Extent(logical: 0, physical: 1_000_000, length: 12_288),
            Extent(logical: 12_288, physical: 3_000_000, length: 4_096),
            // Shares a's second extent from 4 KB on, the same shift.
            Extent(logical: 16_384, physical: 6_000_000, length: 4_096),
            Extent(logical: 20_480, physical: 5_004_096, length: 12_288),
            // The same place, but encoded (compressed): its address is not its bytes.
            Extent(logical: 32_768, physical: 9_000_000, length: 16_384, flags: 0x8),
            // The same place, last extent flag only (0x1): plain.
            Extent(logical: 49_152, physical: 7_000_000, length: 16_384, flags: 0x1),
        ])
        #expect(a.sharedRanges(with: b) == [0..<12_288, 20_480..<32_768, 49_152..<65_536])
        #expect(b.sharedRanges(with: a) == a.sharedRanges(with: b))
        #expect(a.sharedRanges(with: ExtentMap(extents: [])).isEmpty)
    }

    @Test("small files are read whole; a directory's files by name, filtered")
    func smallFiles() async throws {
        let big = (0..<200_000).map { UInt8($0 % 251) }
        try write(big, to: "0000")
        try write([1, 2, 3], to: "0001")
        try write([4], to: "notes.txt")
        let read = try await SmallFiles.read("\(directory)/0000")
        #expect(read == big)
        let all = try await SmallFiles.readAll(in: directory) { UInt32($0, radix: 16) != nil }
        #expect(all == ["0000": big, "0001": [1, 2, 3]])
        await #expect(throws: StorageError.self) { try await SmallFiles.read("\(directory)/none") }
        await #expect(throws: StorageError.self) { try await SmallFiles.readAll(in: "\(directory)/none") { _ in true } }
    }

    @Test("slow storage calls wait on BlockingWork's threads, not on Swift's cooperative ones")
    func slowCallsLeaveTheCooperativePoolFree() async throws {
        // Reading a FIFO blocks in open() until a writer comes: 16 reads that cannot finish yet,
        // more than both Swift's cooperative threads (as many as cores) and BlockingWork's eight.
        let fifos = (0..<16).map { "\(directory)/fifo-\($0)" }
        for fifo in fifos { #expect(mkfifo(fifo, 0o600) == 0) }
        try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for fifo in fifos { group.addTask { try await SmallFiles.read(fifo) } }
            try await Task.sleep(for: .milliseconds(100))
            // A trivial task still gets a thread at once, several times over.
            for _ in 0..<5 {
                let clock = ContinuousClock()
                let start = clock.now
                let ran = await Task { clock.now }.value
                #expect(ran - start < .milliseconds(250), "a blocked pool would wait until the writers come, seconds later")
            }
            // Each writer waits for its reader to open the FIFO, so none of the data is lost.
            for fifo in fifos {
                Thread.detachNewThread {
                    let descriptor = open(fifo, O_WRONLY | O_CLOEXEC)
                    guard descriptor >= 0 else { return }
                    _ = [UInt8(7)].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, 1) }
                    close(descriptor)
                }
            }
            var reads = 0
            for try await bytes in group {
                #expect(bytes == [7])
                reads += 1
            }
            #expect(reads == 16)
        }
    }
}
