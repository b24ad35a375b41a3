public import BranchCore

/// A backup that could not be written, read, authenticated or restored.
public struct BackupError: ReportableError {
    public let kind: ErrorCode
    public let detail: String

    public init(_ kind: ErrorCode, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var code: ErrorCode { kind }
    public var message: String { detail }
    public var hint: String? {
        switch kind {
        case .backupIntegrityFailed: "The backup does not match what was written. Restore an earlier backup, and check the target for tampering."
        case .backupWrongKey: "Use the key the backup was made with (--backup-key-file or BRANCH_BACKUP_KEY)."
        case .backupKeyMissing: "Give `branch serve` a 32-byte key: --backup-key-file FILE or BRANCH_BACKUP_KEY (base64); `branch backup keygen` makes one."
        default: nil
        }
    }
}
