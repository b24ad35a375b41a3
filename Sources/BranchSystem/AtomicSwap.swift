import CLinux
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Installing files so that a crash at any moment leaves either the old or the new one in place
/// (the service's own binary, on upgrade and rollback).
package enum AtomicSwap {
    /// Exchanges two paths on one filesystem in one step (renameat2 RENAME_EXCHANGE).
    package static func exchange(_ a: String, _ b: String) throws(FileError) {
        let result = clinux_rename_exchange(a, b)
        guard result == 0 else { throw FileError("exchange with \(b)", path: a, errno: -result) }
    }

    /// Renames `from` over `to` (atomic on one filesystem).
    package static func rename(_ from: String, over to: String) throws(FileError) {
        guard Glibc.rename(from, to) == 0 else { throw FileError("rename to \(to)", path: from, errno: errno) }
    }

    /// Copies `source` to `destination` (replaced if present) with `mode`, flushed to disk.
    package static func copy(_ source: String, to destination: String, mode: FileMode) throws(FileError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw FileError("open", path: source, errno: errno) }
        defer { close(input) }
        unlink(destination)
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard output >= 0 else { throw FileError("create", path: destination, errno: errno) }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 { throw FileError("read", path: source, errno: errno) }
            if n == 0 { break }
            var written = 0
            while written < n {
                let w = buffer[written..<n].withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
                if w < 0 { throw FileError("write", path: destination, errno: errno) }
                written += w
            }
        }
        fchmod(output, mode)
        guard fsync(output) == 0 else { throw FileError("sync", path: destination, errno: errno) }
    }

    /// Flushes a directory's entries (after renames in it).
    package static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// Hard-links `source` as `destination`, replacing what is there.
    package static func link(_ source: String, as destination: String) throws(FileError) {
        let temporary = "\(destination).link-\(getpid())"
        unlink(temporary)
        guard Glibc.link(source, temporary) == 0 else { throw FileError("link", path: source, errno: errno) }
        try rename(temporary, over: destination)
    }
}
