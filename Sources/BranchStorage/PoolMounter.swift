import BranchCore
import BranchSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How the pool came to be on Btrfs at start-up.
package enum PoolMountOutcome: Sendable, Equatable {
    /// The directory was already on Btrfs.
    case alreadyOnBtrfs
    /// An image made earlier was mounted again (after a reboot or an unmount).
    case remountedImage(path: String)
    /// A new sparse image was created, formatted and mounted.
    case createdImage(path: String, size: UInt64)

    package var summary: String {
        switch self {
        case .alreadyOnBtrfs: "pool is on Btrfs"
        case .remountedImage(let path): "re-mounted the pool image \(path)"
        case .createdImage(let path, let size): "created a \(ByteCount.format(size)) sparse Btrfs image at \(path) and mounted it"
        }
    }
}

/// Makes sure the pool directory is on Btrfs: use it as it is, or create/re-mount a loop image.
package enum PoolMounter {
    /// The image path used when none is given: beside the pool, `<pool>.img`.
    package static func defaultImage(for root: String) -> String { "\(PoolLayout(root: root).root).img" }

    package static func ensureMounted(root: String, image: String? = nil, size: UInt64) async throws(StorageError) -> PoolMountOutcome {
        let layout = PoolLayout(root: root)
        do {
            try Files.ensureDirectory(layout.root, mode: 0o700)
        } catch {
            throw StorageError(.poolMountFailed, path: layout.root, detail: error.message, errno: error.errno)
        }
        let outcome: PoolMountOutcome
        if Btrfs.isOnBtrfs(layout.root) {
            outcome = .alreadyOnBtrfs
        } else {
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: layout.root)) ?? []
            guard contents.isEmpty else {
                throw StorageError(.poolNotEmpty, path: layout.root, detail: "The pool directory is not on Btrfs and is not empty")
            }
            let imagePath = image ?? defaultImage(for: layout.root)
            if Files.exists(imagePath) {
                try await mount(image: imagePath, at: layout.root)
                outcome = .remountedImage(path: imagePath)
            } else {
                try await createImage(at: imagePath, size: size)
                try await mount(image: imagePath, at: layout.root)
                outcome = .createdImage(path: imagePath, size: size)
            }
            guard Btrfs.isOnBtrfs(layout.root) else {
                throw StorageError(.poolNotBtrfs, path: layout.root, detail: "The pool is still not on Btrfs after mounting \(imagePath)")
            }
        }
        // The root directory of a fresh filesystem is 0755: the pool holds keys, keep it private.
        chmod(layout.root, 0o700)
        // Simple quotas make per-branch sizes cheap to read; an older kernel just has no sizes.
        // Enabling them commits a transaction: off the cooperative threads.
        let root = layout.root
        _ = try? await blocking(path: root) { () -> Int32 in Btrfs.enableSimpleQuotas(root) }
        return outcome
    }

    static func createImage(at path: String, size: UInt64) async throws(StorageError) {
        guard size >= 256 << 20 else {
            throw StorageError(.poolMountFailed, path: path, detail: "A pool image must be at least 256 MB")
        }
        try await blocking(path: path) { () throws(StorageError) in
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw StorageError(.poolMountFailed, path: path, detail: "Creating the pool image failed: \(String(cString: strerror(errno)))", errno: errno)
            }
            let truncated = ftruncate(fd, off_t(size))
            let truncateErrno = errno
            close(fd)
            guard truncated == 0 else {
                unlink(path)
                throw StorageError(.poolMountFailed, path: path, detail: "Sizing the pool image failed: \(String(cString: strerror(truncateErrno)))", errno: truncateErrno)
            }
        }
        do {
            try await Command.run("mkfs.btrfs", ["-q", "-L", "branch-pool", path])
        } catch {
            unlink(path)
            throw StorageError(.poolMountFailed, path: path, detail: "mkfs.btrfs failed: \(error.message)")
        }
    }

    static func mount(image: String, at root: String) async throws(StorageError) {
        do {
            try await Command.run("mount", ["-o", "loop,noatime", image, root])
        } catch {
            throw StorageError(.poolMountFailed, path: root, detail: "Mounting \(image) failed: \(error.message)")
        }
    }
}
