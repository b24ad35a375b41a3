package import BranchCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Permission bits, as `mode_t` is on Linux.
package typealias FileMode = UInt32

/// A failed file-system call, with the path and errno.
package struct FileError: ReportableError {
    package let operation: String
    package let path: String
    package let errno: Int32

    package init(_ operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    package var isNoSpace: Bool { errno == ENOSPC || errno == EDQUOT }
    package var code: ErrorCode { isNoSpace ? .poolFull : .fileError }
    package var message: String { "Could not \(operation) \(path): \(String(cString: strerror(errno)))." }
    package var hint: String? { isNoSpace ? "Free space in the pool (delete branches or snapshots) or grow it." : nil }
}

/// Small file helpers with explicit modes and owners; every write is atomic (temp file + rename).
package enum Files {
    /// Writes `contents` to `path` atomically with `mode`, optionally owned by `owner`.
    package static func writeAtomically(_ contents: String, to path: String, mode: FileMode = 0o644, owner: String? = nil) throws(FileError) {
        let temp = "\(path).tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError("create", path: temp, errno: errno) }
        let bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let code = errno
                close(fd)
                unlink(temp)
                throw FileError("write", path: temp, errno: code)
            }
            written += n
        }
        if fsync(fd) != 0 {
            let code = errno
            close(fd)
            unlink(temp)
            throw FileError("sync", path: temp, errno: code)
        }
        close(fd)
        // open() applies the umask; set the exact mode we were asked for.
        chmod(temp, mode)
        if let owner { try chown(temp, to: owner) }
        guard rename(temp, path) == 0 else {
            let code = errno
            unlink(temp)
            throw FileError("rename", path: path, errno: code)
        }
    }

    /// Flushes a directory's entries to disk, so a rename inside it survives a power loss.
    package static func syncDirectory(_ path: String) throws(FileError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open", path: path, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileError("sync", path: path, errno: errno) }
    }

    /// Creates `path` (and parents) if missing, then sets mode and owner.
    package static func ensureDirectory(_ path: String, mode: FileMode = 0o755, owner: String? = nil) throws(FileError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FileError("create directory", path: path, errno: (error as NSError).code == 640 ? ENOSPC : EIO)
        }
        guard chmod(path, mode) == 0 else { throw FileError("chmod", path: path, errno: errno) }
        if let owner { try chown(path, to: owner) }
    }

    /// Changes the owner and group of `path` to `user` and that user's primary group.
    package static func chown(_ path: String, to user: String) throws(FileError) {
        guard let entry = getpwnam(user) else { throw FileError("find user \(user) for", path: path, errno: ENOENT) }
        guard Glibc.chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
            throw FileError("chown", path: path, errno: errno)
        }
    }

    package static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    package static func read(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Removes a file; a missing file is not an error.
    package static func remove(_ path: String) throws(FileError) {
        if unlink(path) != 0 && errno != ENOENT { throw FileError("remove", path: path, errno: errno) }
    }
}
