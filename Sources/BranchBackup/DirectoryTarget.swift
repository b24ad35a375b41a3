import BranchCore
import CLinux
import Dispatch
package import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Backups as files under a root directory (a local disk, NFS, a mounted bucket).
///
/// Directories are created mode 0700 and files 0600. Every object is written to
/// `<file>.partial`, synced, then renamed into place, so a crash never leaves a file that looks
/// complete; `.partial` files are invisible to `list`, `exists` and `get`.
package struct DirectoryTarget: BackupTarget {
    /// Absolute path of the root directory (created on the first write).
    package let root: String
    /// How much an upload buffers before writing to the file.
    package let partSize: Int
    /// Size of the pieces `read` yields.
    package let readPieceSize: Int

    /// - Throws: `BackupError(.backupTargetFailed)` when `root` is not an absolute path.
    package init(
        root: String, partSize: Int = BackupTargetDefaults.partSize, readPieceSize: Int = BackupTargetDefaults.readPieceSize
    ) throws(BackupError) {
        guard root.hasPrefix("/") else {
            throw BackupError(.backupTargetFailed, "Backup directory '\(root)' must be an absolute path.")
        }
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.partSize = max(partSize, 1)
        self.readPieceSize = max(readPieceSize, 1)
    }

    package var description: String { "dir:\(root)" }

    package func put(_ key: String, data: Data) async throws {
        let path = try file(for: key)
        try await BlockingIO.run {
            try Self.makeDirectories(Self.parent(of: path))
            let partial = PartialFile(path: path)
            let fd = try partial.create()
            defer { close(fd) }
            do {
                try data.withUnsafeBytes { try Self.writeAll(fd, $0, path: partial.temporary) }
                try partial.commit(fd)
            } catch {
                unlink(partial.temporary)
                throw error
            }
        }
    }

    package func openUpload(_ key: String) async throws -> any BackupUpload {
        let path = try file(for: key)
        let fd = try await BlockingIO.run {
            try Self.makeDirectories(Self.parent(of: path))
            return try PartialFile(path: path).create()
        }
        return DirectoryUpload(file: PartialFile(path: path), fd: fd, partSize: partSize)
    }

    package func get(_ key: String) async throws -> Data {
        let path = try file(for: key)
        return try await BlockingIO.run {
            let fd = try Self.openForReading(path, key: key)
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw Self.failure("stat", path) }
            guard Int(info.st_size) <= BackupTargetDefaults.smallObjectLimit else {
                throw BackupError(.backupTargetFailed, "\(path) is \(info.st_size) bytes, too large to read whole; it must be streamed.")
            }
            var data = Data()
            while let piece = try FileReader.readPiece(from: fd, path: path, pieceSize: 1 << 20) { data.append(contentsOf: piece) }
            return data
        }
    }

    package func read(_ key: String) async throws -> AsyncThrowingStream<[UInt8], any Error> {
        let path = try file(for: key)
        let pieceSize = readPieceSize
        let reader = try await BlockingIO.run {
            FileReader(fd: try Self.openForReading(path, key: key), path: path, pieceSize: pieceSize)
        }
        // Pull-based: a piece is read only when the consumer asks for it, so memory holds one piece.
        return AsyncThrowingStream(unfolding: { try await BlockingIO.run { try reader.next() } })
    }

    package func list(prefix: String) async throws -> [String] {
        try ObjectKeys.validatePrefix(prefix, in: description)
        let root = root
        return try await BlockingIO.run {
            // Walk only the deepest directory the prefix names; the rest is a string match.
            let directory = prefix.contains("/") ? String(prefix[..<prefix.lastIndex(of: "/")!]) : ""
            let start = directory.isEmpty ? root : "\(root)/\(directory)"
            var keys: [String] = []
            try Self.walk(start, relativeTo: directory) { key in
                if key.hasPrefix(prefix) && !PartialFile.isPartial(key) { keys.append(key) }
            }
            // The order S3 lists in: by UTF-8 bytes.
            return keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
    }

    package func delete(_ key: String) async throws {
        let path = try file(for: key)
        let root = root
        try await BlockingIO.run {
            guard unlink(path) == 0 || errno == ENOENT else { throw Self.failure("delete", path) }
            // Remove directories the deletion emptied (a deleted backup's folder), up to the root;
            // rmdir refuses non-empty ones, which is where this stops.
            var directory = Self.parent(of: path)
            while directory.count > root.count && directory.hasPrefix(root + "/") && rmdir(directory) == 0 {
                directory = Self.parent(of: directory)
            }
        }
    }

    package func exists(_ key: String) async throws -> Bool {
        let path = try file(for: key)
        return try await BlockingIO.run {
            var info = stat()
            guard stat(path, &info) == 0 else {
                if errno == ENOENT || errno == ENOTDIR { return false }
                throw Self.failure("stat", path)
            }
            return (info.st_mode & S_IFMT) == S_IFREG
        }
    }

    // MARK: Paths

    /// The file of `key`, which may not leave the root or collide with upload temporaries.
    func file(for key: String) throws(BackupError) -> String {
        try ObjectKeys.validate(key, in: description)
        guard !PartialFile.isPartial(key) else {
            throw BackupError(.backupTargetFailed, "Invalid backup key '\(key)' for \(description): names ending in .partial are reserved for uploads.")
        }
        return root == "/" ? "/\(key)" : "\(root)/\(key)"
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }

    // MARK: File-system calls (run on Dispatch threads through BlockingIO)

    static func failure(_ operation: String, _ path: String, errno code: Int32 = errno) -> BackupError {
        // Out of space has its own code: the cure is freeing space, not repairing the target.
        BackupError(
            code == ENOSPC || code == EDQUOT ? .backupTargetFull : .backupTargetFailed,
            "Could not \(operation) \(path): \(String(cString: strerror(code))).")
    }

    /// `mkdir -p` with mode 0700 for what it creates; existing directories keep their mode.
    static func makeDirectories(_ path: String) throws(BackupError) {
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw failure("create directory", path, errno: ENOTDIR) }
            return
        }
        if path != "/" { try makeDirectories(parent(of: path)) }
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw failure("create directory", path) }
    }

    static func openForReading(_ path: String, key: String) throws(BackupError) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw BackupError(.backupNotFound, "No backup object \(key) in \(parent(of: path)).") }
            throw failure("open", path)
        }
        return fd
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(BackupError) {
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("write", path)
            }
            offset += count
        }
    }

    /// Calls `visit` with the key of every regular file under `directory` (missing is empty).
    static func walk(_ directory: String, relativeTo key: String, _ visit: (String) -> Void) throws(BackupError) {
        guard let handle = opendir(directory) else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw failure("list", directory)
        }
        var entries: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name == "." || name == ".." { continue }
            var info = stat()
            guard lstat("\(directory)/\(name)", &info) == 0 else { continue }
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR || type == S_IFREG { entries.append((name, type == S_IFDIR)) }
        }
        closedir(handle)
        for entry in entries {
            let child = key.isEmpty ? entry.name : "\(key)/\(entry.name)"
            if entry.isDirectory {
                try walk("\(directory)/\(entry.name)", relativeTo: child, visit)
            } else {
                visit(child)
            }
        }
    }
}

/// The temporary `<file>.partial` an object is written to before it is renamed into place.
struct PartialFile: Sendable {
    static let suffix = ".partial"
    let path: String
    var temporary: String { path + Self.suffix }

    static func isPartial(_ key: String) -> Bool { key.hasSuffix(suffix) }

    /// Creates (or truncates a stale) temporary file and returns its descriptor.
    func create() throws(BackupError) -> Int32 {
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DirectoryTarget.failure("create", temporary) }
        return fd
    }

    /// Syncs the temporary file, renames it over `path`, and syncs the directory so the rename
    /// itself survives a crash. Does not close `fd`.
    func commit(_ fd: Int32) throws(BackupError) {
        guard fsync(fd) == 0 else { throw DirectoryTarget.failure("sync", temporary) }
        guard rename(temporary, path) == 0 else { throw DirectoryTarget.failure("rename", temporary) }
        let directory = DirectoryTarget.parent(of: path)
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            defer { close(dirFD) }
            guard fsync(dirFD) == 0 else { throw DirectoryTarget.failure("sync", directory) }
        }
    }
}

/// A large object being written to `<file>.partial`.
actor DirectoryUpload: BackupUpload {
    private enum State {
        case open(fd: Int32)
        case completed
        case aborted
    }

    private let file: PartialFile
    private let partSize: Int
    private var state: State
    private var buffer: [UInt8] = []
    private var total: UInt64 = 0
    private var busy = false

    init(file: PartialFile, fd: Int32, partSize: Int) {
        self.file = file
        self.partSize = partSize
        self.state = .open(fd: fd)
    }

    deinit {
        // Dropped without complete() or abort(): leave no temporary behind.
        if case .open(let fd) = state {
            close(fd)
            unlink(file.temporary)
        }
    }

    func write(_ bytes: [UInt8]) async throws {
        let fd = try begin("write to")
        defer { busy = false }
        if buffer.count + bytes.count < partSize {
            buffer.append(contentsOf: bytes)
            return
        }
        // A full part: write what is buffered, then these bytes straight from the caller's array
        // (no copy, and the buffer never grows past partSize).
        try await flush(buffer, fd: fd)
        buffer.removeAll(keepingCapacity: true)
        try await flush(bytes, fd: fd)
    }

    func complete() async throws -> UInt64 {
        let fd = try begin("complete")
        defer { busy = false }
        try await flush(buffer, fd: fd)
        buffer = []
        let file = file
        do {
            try await BlockingIO.run { try file.commit(fd) }
        } catch {
            await abort()
            throw error
        }
        close(fd)
        state = .completed
        return total
    }

    func abort() async {
        guard case .open(let fd) = state else { return }
        state = .aborted
        buffer = []
        close(fd)
        unlink(file.temporary)
        // A failed upload is often a full disk: commit now so the partial file's space is free
        // again for the servers sharing it, not at the filesystem's next periodic commit.
        let directory = (file.temporary as NSString).deletingLastPathComponent
        _ = try? await BlockingIO.run { clinux_syncfs(directory) }
    }

    /// Checks the upload is open and no other call is running; returns the descriptor.
    private func begin(_ operation: String) throws(BackupError) -> Int32 {
        guard !busy else { throw BackupError(.backupFailed, "Overlapping calls on the upload of \(file.path); use it from one task.") }
        guard case .open(let fd) = state else {
            throw BackupError(.backupFailed, "Cannot \(operation) the upload of \(file.path): it was already completed or aborted.")
        }
        busy = true
        return fd
    }

    private func flush(_ bytes: [UInt8], fd: Int32) async throws {
        guard !bytes.isEmpty else { return }
        let path = file.temporary
        do {
            try await BlockingIO.run { try bytes.withUnsafeBytes { try DirectoryTarget.writeAll(fd, $0, path: path) } }
        } catch {
            // A failed write leaves a file of unknown content: remove it so nothing half-written stays.
            await abort()
            throw error
        }
        total += UInt64(bytes.count)
    }
}

/// Reads a file in pieces of `pieceSize` bytes (the last may be shorter) and closes it when
/// dropped. The stream that owns it calls `next()` one call at a time, never concurrently.
final class FileReader: @unchecked Sendable {
    private let fd: Int32
    private let path: String
    private let pieceSize: Int

    init(fd: Int32, path: String, pieceSize: Int) {
        self.fd = fd
        self.path = path
        self.pieceSize = pieceSize
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    func next() throws(BackupError) -> [UInt8]? {
        try Self.readPiece(from: fd, path: path, pieceSize: pieceSize)
    }

    /// Up to `pieceSize` bytes from `fd`; nil at the end of the file.
    static func readPiece(from fd: Int32, path: String, pieceSize: Int) throws(BackupError) -> [UInt8]? {
        var piece = [UInt8](repeating: 0, count: pieceSize)
        var filled = 0
        while filled < pieceSize {
            let count = piece.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, pieceSize - filled) }
            if count < 0 {
                if errno == EINTR { continue }
                throw DirectoryTarget.failure("read", path)
            }
            if count == 0 { break }
            filled += count
        }
        guard filled > 0 else { return nil }
        piece.removeLast(pieceSize - filled)
        return piece
    }
}

/// Runs blocking system calls (write, fsync, read) on a Dispatch thread so they never stall
/// Swift's few cooperative threads.
enum BlockingIO {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}
