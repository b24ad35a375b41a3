import BranchCore
import Foundation
import SystemPackage

/// A relation's fork on disk, read by block number: `path`, `path.1`, `path.2`… of 1 GB each
/// (Postgres's segment files). Every segment present when it is opened (up to the first gap) stays
/// open until `withOpened` returns, and its size is the size then. Reads run on `BlockingWork`'s
/// threads, a bounded run of pages at a time: never the whole relation in memory.
package final class RelationFile: Sendable {
    /// Postgres's block size.
    package static let pageSize = 8192
    /// Blocks per segment file (1 GB files).
    package static let pagesPerSegment = 131_072

    package let path: String
    /// One descriptor per segment file, in order.
    private let segments: [FileDescriptor]
    /// Whole pages in all segments when opened.
    package let blockCount: Int

    /// The number of segment files: `path`, `path.1`, … without a gap.
    package var segmentCount: Int { segments.count }

    private init(path: String, segments: [FileDescriptor], blockCount: Int) {
        self.path = path
        self.segments = segments
        self.blockCount = blockCount
    }

    /// Opens `path` and its further segments, runs `body` with them, and closes them. Throws
    /// `subvolume_not_found`-coded `StorageError` when `path` does not exist, `storage_failed`
    /// when it cannot be opened.
    package static func withOpened<T>(
        _ path: String, isolation: isolated (any Actor)? = #isolation, _ body: (RelationFile) async throws -> T
    ) async throws -> T {
        let file = try await open(path)
        defer { file.close() }
        return try await body(file)
    }

    private static func open(_ path: String) async throws(StorageError) -> RelationFile {
        try await blocking(path: path) { () throws(StorageError) -> RelationFile in
            var segments: [FileDescriptor] = []
            do {
                segments.append(try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec]))
            } catch {
                let code = (error as? Errno)?.rawValue
                throw StorageError(code == ENOENT ? .subvolumeNotFound : .storageFailed, path: path, detail: "Opening the relation file failed: \(error)", errno: code)
            }
            while let next = try? FileDescriptor.open(FilePath("\(path).\(segments.count)"), .readOnly, options: [.closeOnExec]) {
                segments.append(next)
            }
            var blocks = 0
            for segment in segments {
                do {
                    blocks += Int(try segment.stat().size) / pageSize
                } catch {
                    for segment in segments { try? segment.close() }
                    throw StorageError(.storageFailed, path: path, detail: "Reading the relation file's size failed: \(error)", errno: (error as? Errno)?.rawValue)
                }
            }
            return RelationFile(path: path, segments: segments, blockCount: blocks)
        }
    }

    private func close() {
        for segment in segments { try? segment.close() }
    }

    /// The bytes of up to `count` whole pages from `block` on, across segment files: fewer at the
    /// end of the relation, none past it.
    package func readPages(at block: Int, count: Int) async throws(StorageError) -> [UInt8] {
        try await blocking(path: path) { () throws(StorageError) -> [UInt8] in try self.readPagesOnThisThread(at: block, count: count) }
    }

    private func readPagesOnThisThread(at block: Int, count: Int) throws(StorageError) -> [UInt8] {
        let pageSize = Self.pageSize
        var failure: (any Error)?
        let bytes = [UInt8](unsafeUninitializedCapacity: count * pageSize) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var done = 0
            reading: while done < count {
                let current = block + done
                let segment = current / Self.pagesPerSegment
                guard segment < segments.count else { break }
                let inSegment = min(count - done, Self.pagesPerSegment - current % Self.pagesPerSegment)
                let wanted = inSegment * pageSize
                let offset = Int64((current % Self.pagesPerSegment) * pageSize)
                var got = 0
                while got < wanted {
                    let destination = UnsafeMutableRawBufferPointer(rebasing: raw[(done * pageSize + got)..<(done * pageSize + wanted)])
                    do {
                        let read = try segments[segment].read(fromAbsoluteOffset: offset + Int64(got), into: destination)
                        if read == 0 { break }
                        got += read
                    } catch {
                        failure = error
                        break reading
                    }
                }
                done += got / pageSize
                if got < wanted { break }
            }
            initialized = done * pageSize
        }
        if let failure {
            throw StorageError(.storageFailed, path: path, detail: "Reading pages from block \(block) failed: \(failure)", errno: (failure as? Errno)?.rawValue)
        }
        return bytes
    }

    /// Where one segment file's bytes are on disk (FIEMAP, after the kernel flushed the file).
    /// Throws with `EOPNOTSUPP` on a filesystem that cannot say.
    package func extentMap(segment: Int) async throws(StorageError) -> ExtentMap {
        guard segment < segments.count else {
            throw StorageError(.subvolumeNotFound, path: path, detail: "The relation has no segment \(segment)")
        }
        let descriptor = segments[segment]
        let name = segment == 0 ? path : "\(path).\(segment)"
        return try await blocking(path: name) { () throws(StorageError) -> ExtentMap in try ExtentMap.read(descriptor, path: name) }
    }
}

/// Small files read whole (a commit log segment, a visibility map), off the cooperative threads.
package enum SmallFiles {
    /// The bytes of `path`.
    package static func read(_ path: String) async throws(StorageError) -> [UInt8] {
        try await blocking(path: path) { () throws(StorageError) -> [UInt8] in try readOnThisThread(path) }
    }

    /// The regular files directly inside `directory` whose names `include` accepts, read whole, by
    /// name; a file that cannot be read (gone meanwhile) is left out. Throws when the directory
    /// cannot be listed.
    package static func readAll(in directory: String, where include: @escaping @Sendable (String) -> Bool) async throws(StorageError)
        -> [String: [UInt8]]
    {
        try await blocking(path: directory) { () throws(StorageError) -> [String: [UInt8]] in
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                throw StorageError(.storageFailed, path: directory, detail: "Listing the directory failed: \(error)")
            }
            var files: [String: [UInt8]] = [:]
            for name in names where include(name) {
                files[name] = try? readOnThisThread("\(directory)/\(name)")
            }
            return files
        }
    }

    static func readOnThisThread(_ path: String) throws(StorageError) -> [UInt8] {
        do {
            let descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
            return try descriptor.closeAfter {
                var bytes: [UInt8] = []
                bytes.reserveCapacity(Int(try descriptor.stat().size))
                var chunk = [UInt8](repeating: 0, count: 64 << 10)
                while true {
                    let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
                    if count == 0 { return bytes }
                    bytes += chunk[..<count]
                }
            }
        } catch {
            let code = (error as? Errno)?.rawValue
            throw StorageError(code == ENOENT ? .notFound : .storageFailed, path: path, detail: "Reading the file failed: \(error)", errno: code)
        }
    }
}
