public import BranchCore

#if canImport(Glibc)
import Glibc
#endif

/// A failed pool or subvolume operation.
public struct StorageError: ReportableError {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public static let poolFull = Code(rawValue: "pool_full")
        public static let poolNotEmpty = Code(rawValue: "pool_not_empty")
        public static let notBtrfs = Code(rawValue: "pool_not_btrfs")
        public static let mountFailed = Code(rawValue: "pool_mount_failed")
        public static let alreadyExists = Code(rawValue: "subvolume_exists")
        public static let notFound = Code(rawValue: "subvolume_not_found")
        public static let failed = Code(rawValue: "storage_failed")
        public var description: String { rawValue }
    }

    public let kind: Code
    public let path: String
    public let detail: String
    /// errno of the failed call, when there was one.
    public let errno: Int32?

    public init(_ kind: Code, path: String, detail: String, errno: Int32? = nil) {
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

    public var code: String { kind.rawValue }
    public var httpStatus: Int {
        switch kind {
        case .poolFull: 507
        case .alreadyExists: 409
        case .notFound: 404
        default: 500
        }
    }
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
        case .notBtrfs: "Use a directory on Btrfs, or an empty directory so Branch can create a loop-mounted image."
        default: nil
        }
    }
}
