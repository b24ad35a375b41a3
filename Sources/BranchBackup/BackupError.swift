public import BranchCore

/// A backup that could not be written, read, authenticated or restored.
public struct BackupError: ReportableError {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        /// A chunk or the manifest failed authentication, a hash did not match, or data is missing:
        /// the backup was tampered with or truncated.
        public static let integrity = Code(rawValue: "backup_integrity_failed")
        /// The key given is not the key the backup was made with.
        public static let wrongKey = Code(rawValue: "backup_wrong_key")
        /// No key was configured, or it is malformed.
        public static let keyMissing = Code(rawValue: "backup_key_missing")
        public static let notFound = Code(rawValue: "backup_not_found")
        /// The target (directory or S3) refused or failed an operation.
        public static let target = Code(rawValue: "backup_target_failed")
        public static let failed = Code(rawValue: "backup_failed")
        public var description: String { rawValue }
    }

    public let kind: Code
    public let detail: String

    public init(_ kind: Code, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var code: String { kind.rawValue }
    public var httpStatus: Int {
        switch kind {
        case .integrity, .wrongKey: 422
        case .keyMissing: 400
        case .notFound: 404
        case .target: 502
        default: 500
        }
    }
    public var message: String { detail }
    public var hint: String? {
        switch kind {
        case .integrity: "The backup does not match what was written. Restore an earlier backup, and check the target for tampering."
        case .wrongKey: "Use the key the backup was made with (--backup-key-file or BRANCH_BACKUP_KEY)."
        case .keyMissing: "Give `branch serve` a 32-byte key: --backup-key-file FILE or BRANCH_BACKUP_KEY (base64); `branch backup keygen` makes one."
        default: nil
        }
    }
}
