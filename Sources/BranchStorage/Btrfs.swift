import BranchCore
import CBtrfsUtil
import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// The one place libbtrfsutil is called: every subvolume and snapshot operation, with its error
/// codes turned into `StorageError`s.
enum Btrfs {
    static func check(_ result: btrfs_util_error, _ what: String, path: String) throws(StorageError) {
        guard result != BTRFS_UTIL_OK else { return }
        let code = errno
        let text = String(cString: btrfs_util_strerror(result))
        let kind: ErrorCode
        switch code {
        case EEXIST: kind = .subvolumeExists
        case ENOENT: kind = .subvolumeNotFound
        default: kind = .storageFailed
        }
        throw StorageError(kind, path: path, detail: "\(what) failed: \(text): \(String(cString: strerror(code)))", errno: code)
    }

    static func createSubvolume(_ path: String) throws(StorageError) {
        try check(btrfs_util_create_subvolume(path, 0, nil, nil), "Creating a subvolume", path: path)
    }

    static func snapshot(from source: String, to destination: String, readOnly: Bool) throws(StorageError) {
        let flags = readOnly ? Int32(BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY) : 0
        try check(btrfs_util_create_snapshot(source, destination, flags, nil, nil), "Snapshotting \(source)", path: destination)
    }

    static func deleteSubvolume(_ path: String) throws(StorageError) {
        try check(btrfs_util_delete_subvolume(path, Int32(BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE)), "Deleting a subvolume", path: path)
    }

    static func isSubvolume(_ path: String) -> Bool {
        btrfs_util_is_subvolume(path) == BTRFS_UTIL_OK
    }

    static func subvolumeID(_ path: String) throws(StorageError) -> UInt64 {
        var id: UInt64 = 0
        try check(btrfs_util_subvolume_id(path, &id), "Reading the subvolume id", path: path)
        return id
    }

    static func isReadOnly(_ path: String) throws(StorageError) -> Bool {
        var readOnly = false
        try check(btrfs_util_get_subvolume_read_only(path, &readOnly), "Reading the read-only flag", path: path)
        return readOnly
    }

    static func setReadOnly(_ path: String, _ readOnly: Bool) throws(StorageError) {
        try check(btrfs_util_set_subvolume_read_only(path, readOnly), "Setting the read-only flag", path: path)
    }

    static func sync(_ path: String) throws(StorageError) {
        try check(btrfs_util_sync(path), "Syncing the filesystem", path: path)
    }

    static func isOnBtrfs(_ path: String) -> Bool {
        clinux_is_on_btrfs(path) == 1
    }

    /// Turns on simple quotas (fall back to full qgroups is not attempted: they slow down
    /// snapshot deletion, and sizes are a report, not a correctness matter).
    static func enableSimpleQuotas(_ path: String) -> Int32 {
        clinux_btrfs_quota_enable(path, 1)
    }

    /// Exclusive bytes per subvolume id, or nil when quotas are off.
    static func qgroupUsage(_ path: String) -> [UInt64: (referenced: UInt64, exclusive: UInt64)]? {
        var buffer = [clinux_qgroup_usage](repeating: clinux_qgroup_usage(), count: 16_384)
        var count: UInt32 = 0
        let result = clinux_btrfs_qgroup_usage(path, &buffer, UInt32(buffer.count), &count)
        guard result == 0, count > 0 else { return nil }
        var usage: [UInt64: (UInt64, UInt64)] = [:]
        for entry in buffer.prefix(Int(count)) {
            usage[entry.subvolume_id] = (entry.referenced, entry.exclusive)
        }
        return usage
    }

    static func exchange(_ a: String, _ b: String) throws(StorageError) {
        let result = clinux_rename_exchange(a, b)
        guard result == 0 else {
            throw StorageError(.storageFailed, path: a, detail: "Exchanging \(a) and \(b) failed: \(String(cString: strerror(-result)))", errno: -result)
        }
    }
}
