import BranchCore
import CLinux
import SystemPackage

/// Where a file's bytes are stored on disk, as FIEMAP reports it: the one place `FS_IOC_FIEMAP`
/// is called. Two snapshots of one Btrfs subvolume share the extents neither has written since.
package struct ExtentMap: Sendable, Equatable {
    /// One extent: `length` bytes of the file from `logical` stored on disk from `physical`.
    package struct Extent: Sendable, Hashable {
        package var logical: UInt64
        package var physical: UInt64
        package var length: UInt64
        /// FIEMAP's `FIEMAP_EXTENT_*` flags.
        package var flags: UInt32

        package init(logical: UInt64, physical: UInt64, length: UInt64, flags: UInt32 = 0) {
            self.logical = logical
            self.physical = physical
            self.length = length
            self.flags = flags
        }

        /// Whether its physical address is its bytes: not unknown (0x2), delayed (0x4), encoded
        /// (0x8), encrypted (0x80), unaligned (0x100), inline (0x200), tail-packed (0x400) or
        /// unwritten (0x800).
        package var isPlain: Bool { flags & 0xF8E == 0 }
    }

    /// In the file's order.
    package var extents: [Extent]

    package init(extents: [Extent]) { self.extents = extents }

    /// The extents of an open file (after the kernel flushed it: FIEMAP_FLAG_SYNC). Blocking: call
    /// it on a thread of its own (`RelationFile.extentMap(segment:)` does). Throws with the errno,
    /// `EOPNOTSUPP` on a filesystem without FIEMAP.
    static func read(_ descriptor: FileDescriptor, path: String) throws(StorageError) -> ExtentMap {
        var result: [Extent] = []
        var start: UInt64 = 0
        var buffer = [clinux_extent](repeating: clinux_extent(), count: 512)
        while true {
            var count: UInt32 = 0
            var last: Int32 = 0
            let status = clinux_fiemap(descriptor.rawValue, start, &buffer, UInt32(buffer.count), &count, &last)
            guard status == 0 else {
                throw StorageError(.storageFailed, path: path, detail: "Reading the extent map failed: \(Errno(rawValue: -status))", errno: -status)
            }
            result += buffer.prefix(Int(count)).map { Extent(logical: $0.logical, physical: $0.physical, length: $0.length, flags: $0.flags) }
            guard last == 0, count > 0, let final = result.last else { return ExtentMap(extents: result) }
            start = final.logical + final.length
        }
    }

    /// The byte ranges of the file that `other` stores in the same place on disk at the same
    /// offset: for each pair of overlapping extents (in file order) whose physical address is
    /// shifted from its logical one by the same amount, both plain, their overlap. Ranges are not
    /// merged, so a page across two of them is in neither.
    package func sharedRanges(with other: ExtentMap) -> [Range<UInt64>] {
        let a = extents
        let b = other.extents
        var result: [Range<UInt64>] = []
        var (i, j) = (0, 0)
        while i < a.count && j < b.count {
            let x = a[i]
            let y = b[j]
            let low = max(x.logical, y.logical)
            let high = min(x.logical + x.length, y.logical + y.length)
            if low < high && x.physical &- x.logical == y.physical &- y.logical && x.isPlain && y.isPlain {
                result.append(low..<high)
            }
            if x.logical + x.length <= y.logical + y.length { i += 1 } else { j += 1 }
        }
        return result
    }
}
