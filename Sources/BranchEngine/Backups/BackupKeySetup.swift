import BranchBackup
import BranchCatalog
import BranchCore
import BranchSystem
import Logging
package import Foundation

/// Where the service's backup key comes from: `--backup-key-file`, else `BRANCH_BACKUP_KEY`, else
/// the key file the first start makes beside the master key (`/etc/branch/backup.key`), so backups
/// work from the first start on. The key lives outside the pool: a backup is only as good as the
/// key's copy off the server, which is why `branch status` warns until the operator says it is kept.
package struct BackupKeySetup: Sendable {
    let key: BackupKey
    /// The key file's path, or `BRANCH_BACKUP_KEY`.
    package let location: String
    /// Whether this start made the key (the banner then says so).
    package let created: Bool

    static func load(_ configuration: EngineConfiguration) throws -> BackupKeySetup {
        if let file = configuration.backupKeyFile {
            return BackupKeySetup(key: try BackupKey.load(file: file, environment: [:]), location: file, created: false)
        }
        if let value = configuration.environment[BackupKey.environmentVariable], !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return BackupKeySetup(key: try BackupKey(base64: value), location: BackupKey.environmentVariable, created: false)
        }
        let path = BackupKey.defaultPath(besideMasterKey: configuration.masterKeyFile)
        let (key, created) = try BackupKey.loadOrCreate(path: path)
        return BackupKeySetup(key: key, location: path, created: created)
    }

    /// Where the running service's key comes from (the same choice `load` makes).
    static func location(_ configuration: EngineConfiguration) -> String {
        if let file = configuration.backupKeyFile { return file }
        if let value = configuration.environment[BackupKey.environmentVariable], !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return BackupKey.environmentVariable
        }
        return BackupKey.defaultPath(besideMasterKey: configuration.masterKeyFile)
    }

    /// The catalog setting that records the acknowledgement: `<key id> <ISO 8601 time>`. It names
    /// the key, so a new key warns again.
    static let acknowledgementSetting = "backup.key.acknowledged"

    /// The catalog setting (sealed under the master key, see `Catalog.secretSettings`) that keeps
    /// the keys a rotation retired, so the backups made with them can still be read.
    static let retiredKeysSetting = "backup.keys.retired"

    /// The current key and the retired ones the catalog keeps.
    func keyring(_ catalog: Catalog) async throws -> BackupKeyring {
        let retired = try await catalog.setting(Self.retiredKeysSetting).map { try BackupKeyring.decodeRetired($0) } ?? []
        return BackupKeyring(current: key, retired: retired)
    }
}

/// The backup key as `branch status` shows it: never the key itself.
package struct BackupKeyStatus: Sendable {
    package var id: String
    package var location: String
    /// When the operator said a copy is kept off the server (`branch backup key acknowledge`); nil: not yet.
    package var acknowledgedAt: Date?
    /// What to do, while not acknowledged.
    package var warning: String?
    /// Keys a rotation retired, oldest first: kept (sealed in the catalog) to read older backups.
    package var retired: [RetiredKeyStatus] = []

    package struct RetiredKeyStatus: Sendable {
        package var id: String
        package var retiredAt: Date
        /// Backups in the catalog made with it.
        package var backups: Int
    }

    static func warning(location: String) -> String {
        "Copy the backup key off this server: without it no backup can be restored. Print it with `branch backup key show` "
            + "(it is in \(location)), keep it somewhere safe, then run `branch backup key acknowledge`."
    }
}

/// The key itself, for `branch backup key show`, and the new key a rotation made (with the
/// fingerprint of the one it retired).
package struct BackupKeyReveal: Sendable {
    package var id: String
    package var key: String
    package var location: String
    package var retiredID: String? = nil
}

extension Backups {
    /// The key's id, where it is, and whether its copy off the server was acknowledged.
    package func keyStatus() async throws -> BackupKeyStatus? {
        guard let key = context.backupKey else { return nil }
        let location = BackupKeySetup.location(configuration)
        let acknowledged = try await catalog.setting(BackupKeySetup.acknowledgementSetting).flatMap { value -> Date? in
            let parts = value.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[0] == key.id else { return nil }
            return Instant.parse(parts[1])
        }
        let retired = context.backupKeys?.all.retired ?? []
        let backupsByKey = try await catalog.read { try $0.backups(nil) }.reduce(into: [String: Int]()) { counts, backup in
            if let keyID = backup.keyID { counts[keyID, default: 0] += 1 }
        }
        return BackupKeyStatus(
            id: key.id, location: location, acknowledgedAt: acknowledged,
            warning: acknowledged == nil ? BackupKeyStatus.warning(location: location) : nil,
            retired: retired.map { .init(id: $0.key.id, retiredAt: $0.retiredAt, backups: backupsByKey[$0.key.id] ?? 0) })
    }

    /// Makes a new backup key: the key file is replaced, the key before it is kept (sealed in the
    /// catalog) to read the backups made with it, and the next backup of every branch starts a new
    /// full chain. The new key is returned once, to copy off the server; until that is
    /// acknowledged, `branch status` warns again.
    package func rotateKey(now: Date = Date()) async throws -> BackupKeyReveal {
        let keys = try context.requireBackupKeys()
        let location = BackupKeySetup.location(configuration)
        guard location != BackupKey.environmentVariable else {
            throw EngineError(
                .backupKeyNotRotatable, "The backup key comes from BRANCH_BACKUP_KEY, which the service cannot change.",
                hint: "Give `branch serve` a key file (--backup-key-file FILE) instead; the service can then rotate it.")
        }
        return try await context.locks.withLock("backup-key") {
            let before = keys.all
            let new = BackupKey.generate()
            let after = before.rotated(to: new, at: now)
            // The old key joins the retired keys before the file changes: a crash between the two
            // leaves it current and retired at once, which loading the keyring folds back into one.
            try await catalog.setSetting(BackupKeySetup.retiredKeysSetting, after.encodedRetired())
            do {
                try await BlockingWork.run { try KeyFile.replace(new.base64, at: location, label: "backup key file") }
            } catch let failure as KeyFile.Failure {
                try? await catalog.setSetting(BackupKeySetup.retiredKeysSetting, before.encodedRetired())
                throw EngineError(.backupKeyNotRotatable, failure.message, hint: failure.hint)
            }
            keys.replace(with: after)
            logger.notice("backup key rotated", metadata: ["key": "\(new.id)", "retired": "\(before.current.id)"])
            return BackupKeyReveal(id: new.id, key: new.base64, location: location, retiredID: before.current.id)
        }
    }

    /// The key in base64, to copy off the server.
    package func revealKey() throws -> BackupKeyReveal {
        let key = try context.requireBackupKey()
        return BackupKeyReveal(id: key.id, key: key.base64, location: BackupKeySetup.location(configuration))
    }

    /// Records that a copy of the current key is kept off the server: `branch status` stops warning
    /// (until the key changes).
    package func acknowledgeKey(now: Date = Date()) async throws -> BackupKeyStatus {
        let key = try context.requireBackupKey()
        try await catalog.setSetting(BackupKeySetup.acknowledgementSetting, "\(key.id) \(ISO8601DateFormatter().string(from: now))")
        guard let status = try await keyStatus() else { throw BackupError(.backupKeyMissing, "No backup key is configured for this service.") }
        return status
    }
}
