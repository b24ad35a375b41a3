import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Space held back in the pool for the catalog: a preallocated file that is deleted when the
/// catalog finds the filesystem completely full (Postgres, a backup or anything else having taken
/// the last byte). On Btrfs even rewriting a page needs free space (copy-on-write), and SQLite
/// cannot finish, or undo, a write without it; then every later read must first undo that write
/// and fails too, and `branch list` cannot show what to delete. Giving the reserve back lets the
/// catalog recover and answer; it is made again once the pool has room.
package struct EmergencyReserve: Sendable {
    package let path: String
    package let bytes: Int

    package init(path: String, bytes: Int = 16 << 20) {
        self.path = path
        self.bytes = bytes
    }

    package var isInPlace: Bool { FileManager.default.fileExists(atPath: path) }

    /// Makes the reserve when it is missing and `freeBytes` leaves room for it four times over
    /// (never the allocation that fills the pool). Returns whether it is in place afterwards.
    @discardableResult
    package func ensure(freeBytes: UInt64) -> Bool {
        if isInPlace { return true }
        guard freeBytes > UInt64(bytes) * 4 else { return false }
        let partial = path + ".partial"
        let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        let allocated = posix_fallocate(fd, 0, off_t(bytes)) == 0 && fsync(fd) == 0
        close(fd)
        guard allocated, rename(partial, path) == 0 else {
            unlink(partial)
            return false
        }
        return true
    }

    /// Deletes the reserve; true when there was one (so space was freed and a retry may succeed).
    package func release() -> Bool {
        unlink(path) == 0
    }
}
