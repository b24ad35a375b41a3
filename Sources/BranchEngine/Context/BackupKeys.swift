import BranchBackup
import Synchronization

/// The service's backup keyring, which `branch backup key rotate` replaces while the service runs:
/// backups started after a rotation use the new key; reads pick the key each backup names.
final class BackupKeys: Sendable {
    private let keyring: Mutex<BackupKeyring>

    init(_ keyring: BackupKeyring) { self.keyring = Mutex(keyring) }

    var current: BackupKey { keyring.withLock { $0.current } }
    var all: BackupKeyring { keyring.withLock { $0 } }

    func replace(with new: BackupKeyring) { keyring.withLock { $0 = new } }
}
