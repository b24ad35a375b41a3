package import BranchCore

/// A backup that could not be written, read, authenticated or restored.
package struct BackupError: ReportableError {
    package let code: ErrorCode
    package let message: String

    package init(_ code: ErrorCode, _ message: String) { (self.code, self.message) = (code, message) }

    package var hint: String? {
        switch code {
        case .backupIntegrityFailed: "The backup does not match what was written. Restore an earlier backup, and check the target for tampering."
        case .backupTargetFull: "Free space on the backup directory's filesystem, for instance by deleting old backups (`branch backup delete ID`)."
        case .backupWrongKey: "Use the key the backup was made with (--backup-key-file or BRANCH_BACKUP_KEY)."
        case .backupKeyMissing:
            "Give `branch serve` a 32-byte key: --backup-key-file FILE or BRANCH_BACKUP_KEY (base64); `branch backup keygen` makes one. "
                + "With neither, the first start makes backup.key beside the master key."
        default: nil
        }
    }
}
