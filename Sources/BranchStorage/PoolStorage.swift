import BranchCore
import BranchSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Subvolumes and snapshots inside a mounted pool.
///
/// What can wait on the disk or on a Btrfs transaction (creating, snapshotting and deleting
/// subvolumes, read-only flags, renames, quota reads, syncs) is `async` and runs on `BlockingWork`'s
/// threads, never on Swift's cooperative ones. `isSubvolume`, `subvolumes(in:)`, `space` and
/// `requireFreeSpace` stay synchronous: they only stat paths of small directories and read statfs.
package struct PoolStorage: Sendable {
    package let layout: PoolLayout
    /// Shared by every copy of this value: one quota reading serves all sizes asked for within a
    /// second (see `QuotaUsageCache`); the changes below drop it.
    private let quotaUsage = QuotaUsageCache<[UInt64: (referenced: UInt64, exclusive: UInt64)]>()

    package init(layout: PoolLayout) {
        self.layout = layout
    }

    /// A new, empty writable subvolume.
    package func createSubvolume(at path: String) async throws(StorageError) {
        defer { quotaUsage.invalidate() }
        try await blocking(path: path) { () throws(StorageError) in try Btrfs.createSubvolume(path) }
    }

    /// A copy-on-write snapshot of `source` at `destination`.
    package func snapshot(from source: String, to destination: String, readOnly: Bool) async throws(StorageError) {
        defer { quotaUsage.invalidate() }
        try await blocking(path: destination) { () throws(StorageError) in
            guard Btrfs.isSubvolume(source) else {
                throw StorageError(.subvolumeNotFound, path: source, detail: "The source is not a subvolume")
            }
            try Btrfs.snapshot(from: source, to: destination, readOnly: readOnly)
        }
    }

    /// Deletes a subvolume (and any nested one). A missing path is not an error.
    package func deleteSubvolume(at path: String) async throws(StorageError) {
        defer { quotaUsage.invalidate() }
        try await blocking(path: path) { () throws(StorageError) in
            guard Files.exists(path) else { return }
            guard Btrfs.isSubvolume(path) else {
                throw StorageError(.storageFailed, path: path, detail: "Refusing to delete a directory that is not a subvolume")
            }
            try Btrfs.deleteSubvolume(path)
        }
    }

    package func isSubvolume(_ path: String) -> Bool { Btrfs.isSubvolume(path) }

    package func isReadOnly(_ path: String) async throws(StorageError) -> Bool {
        try await blocking(path: path) { () throws(StorageError) -> Bool in try Btrfs.isReadOnly(path) }
    }

    package func setReadOnly(_ path: String, _ readOnly: Bool) async throws(StorageError) {
        try await blocking(path: path) { () throws(StorageError) in try Btrfs.setReadOnly(path, readOnly) }
    }

    /// Swaps two subvolumes' places in one atomic step.
    package func exchange(_ a: String, _ b: String) async throws(StorageError) {
        defer { quotaUsage.invalidate() }
        try await blocking(path: a) { () throws(StorageError) in try Btrfs.exchange(a, b) }
    }

    /// Moves a subvolume to a new path on the same filesystem (atomic), never over an existing
    /// one, and flushes the destination's directory so the move outlives a power loss.
    package func move(_ source: String, to destination: String) async throws(StorageError) {
        defer { quotaUsage.invalidate() }
        try await blocking(path: source) { () throws(StorageError) in
            guard !Files.exists(destination) else {
                throw StorageError(.storageFailed, path: source, detail: "Moving to \(destination) failed: something is already there", errno: EEXIST)
            }
            guard rename(source, destination) == 0 else {
                throw StorageError(.storageFailed, path: source, detail: "Moving to \(destination) failed: \(String(cString: strerror(errno)))", errno: errno)
            }
            let parent = (destination as NSString).deletingLastPathComponent
            do throws(FileError) { try Files.syncDirectory(parent) } catch {
                throw StorageError(.storageFailed, path: parent, detail: error.message, errno: error.errno)
            }
        }
    }

    /// Names of the subvolumes directly inside `directory` (empty when it does not exist).
    package func subvolumes(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { Btrfs.isSubvolume("\(directory)/\($0)") }.sorted()
    }

    /// Bytes on disk exclusive to each subvolume path (from Btrfs quotas); nil values when
    /// quotas are not available on this filesystem.
    package func exclusiveBytes(of paths: [String]) async -> [String: UInt64] {
        let root = layout.root
        let quotaUsage = quotaUsage
        let result = try? await blocking(path: root) { () -> [String: UInt64] in
            guard let usage = quotaUsage.usage({ Btrfs.qgroupUsage(root) }) else { return [:] }
            var result: [String: UInt64] = [:]
            for path in paths {
                if let id = try? Btrfs.subvolumeID(path), let entry = usage[id] {
                    result[path] = entry.exclusive
                }
            }
            return result
        }
        return result ?? [:]
    }

    /// Whether per-subvolume sizes can be reported.
    package var quotasEnabled: Bool {
        get async {
            let root = layout.root
            let quotaUsage = quotaUsage
            return (try? await blocking(path: root) { () -> Bool in quotaUsage.usage({ Btrfs.qgroupUsage(root) }) != nil }) ?? false
        }
    }

    /// Free and total bytes of the pool's filesystem.
    package func space() -> (free: UInt64, total: UInt64) { Self.space(layout.root) }

    package static func space(_ root: String) -> (free: UInt64, total: UInt64) {
        var info = statvfs()
        guard statvfs(root, &info) == 0 else { return (0, 0) }
        return (UInt64(info.f_bavail) * UInt64(info.f_frsize), UInt64(info.f_blocks) * UInt64(info.f_frsize))
    }

    package static func freeBytes(_ root: String) -> UInt64 { space(root).free }

    /// Throws `pool_full` when less than `reserve` bytes are free, before an operation that writes.
    package func requireFreeSpace(_ reserve: UInt64) throws(StorageError) {
        let free = space().free
        guard free >= reserve else {
            throw StorageError(.poolFull, path: layout.root, detail: "only \(ByteCount.format(free)) free, \(ByteCount.format(reserve)) needed")
        }
    }

    /// Flushes the filesystem so a crash cannot lose subvolumes the catalog already records.
    package func sync() async throws(StorageError) {
        let root = layout.root
        // Synced to see current sizes: the next reading must be taken after this.
        defer { quotaUsage.invalidate() }
        try await blocking(path: root) { () throws(StorageError) in try Btrfs.sync(root) }
    }

    /// `sync` for a caller already on a thread of its own (WriteBack's background flush).
    func syncOnThisThread() throws(StorageError) {
        defer { quotaUsage.invalidate() }
        try Btrfs.sync(layout.root)
    }
}
