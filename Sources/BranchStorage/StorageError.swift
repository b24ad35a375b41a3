package import BranchCore

#if canImport(Glibc)
import Glibc
#endif

/// A failed pool or subvolume operation.
package struct StorageError: ReportableError {
    package let kind: ErrorCode
    package let path: String
    package let detail: String
    /// errno of the failed call, when there was one.
    package let errno: Int32?

    package init(_ kind: ErrorCode, path: String, detail: String, errno: Int32? = nil) {
        // ENOSPC and EDQUOT mean the pool is full whatever the call was.
        if let errno, errno == ENOSPC || errno == EDQUOT {
            self.kind = .poolFull
        } else {
            self.kind = kind
        }
        self.path = path
        self.detail = detail
        self.errno = errno
    }

    package var code: ErrorCode { kind }
    package var message: String {
        switch kind {
        case .poolFull: "The pool is full: \(detail)."
        default: "\(detail) (\(path))."
        }
    }
    package var hint: String? {
        switch kind {
        case .poolFull: "Delete branches or snapshots you no longer need, or restart the service with a larger --pool-size."
        case .poolNotEmpty: "Point --pool at an empty directory or at a directory on Btrfs."
        case .poolNotBtrfs: "Use a directory on Btrfs, or an empty directory so Branch can create a loop-mounted image."
        default: nil
        }
    }
}
