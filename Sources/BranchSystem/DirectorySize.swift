import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Space files take on disk, for reports of what uses the pool. These walk directories and stat
/// every file: call them from a thread of their own (`BlockingWork`).
package enum DirectorySize {
    /// Allocated bytes (st_blocks) of every file under `path`, not following links; 0 when missing.
    package static func allocatedBytes(under path: String) -> UInt64 {
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: UInt64 = 0
        var info = stat()
        while let relative = enumerator.nextObject() as? String {
            if lstat("\(path)/\(relative)", &info) == 0 { total += UInt64(info.st_blocks) * 512 }
        }
        return total
    }

    /// Whether `path` (or, when it does not exist yet, its nearest existing parent) is on the
    /// same device as `root`.
    package static func sameFilesystem(_ path: String, _ root: String) -> Bool {
        var existing = path
        var info = stat()
        while lstat(existing, &info) != 0 && existing.count > 1 { existing = (existing as NSString).deletingLastPathComponent }
        var rootInfo = stat()
        return stat(existing, &info) == 0 && stat(root, &rootInfo) == 0 && info.st_dev == rootInfo.st_dev
    }
}
