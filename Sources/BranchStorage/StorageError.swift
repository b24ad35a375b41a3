public import BranchCore

#if canImport(Glibc)
import Glibc
#endif

/// A failed pool or subvolume operation.
public struct StorageError: ReportableError {
    public let kind: ErrorCode
    public let path: String
    public let detail: String
    /// errno of the failed call, when there was one.
    public let errno: Int32?

    public init(_ kind: ErrorCode, path: String, detail: String, errno: Int32? = nil) {
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

    public var code: ErrorCode { kind }
    public var message: String {
        switch kind {
        case .poolFull: "The pool is full: \(detail)."
        default: "\(detail) (\(path))."
        }
    }
    public var hint: String? {
        switch kind {
        case .poolFull: "Delete branches or snapshots you no longer need, or restart the service with a larger --pool-size."
        case .poolNotEmpty: "Point --pool at an empty directory or at a directory on Btrfs."
        case .poolNotBtrfs: "Use a directory on Btrfs, or an empty directory so Branch can create a loop-mounted image."
        default: nil
        }
    }
}
