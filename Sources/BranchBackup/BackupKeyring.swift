import BranchCore
package import Foundation

/// The key new backups are made with, and the retired keys older backups still need. Every
/// manifest names its key's fingerprint, so reading a backup picks that key: rotating the key
/// never strands a backup made before.
package struct BackupKeyring: Sendable {
    package var current: BackupKey
    /// Oldest first.
    package var retired: [RetiredBackupKey]

    package init(current: BackupKey, retired: [RetiredBackupKey] = []) {
        self.current = current
        self.retired = retired.filter { $0.key.id != current.id }
    }

    /// The key with fingerprint `id`, current or retired.
    package func key(id: String) -> BackupKey? {
        if current.id == id { return current }
        return retired.last { $0.key.id == id }?.key
    }

    /// `newKey` becomes the current key; the one before joins the retired keys.
    package func rotated(to newKey: BackupKey, at date: Date) -> BackupKeyring {
        BackupKeyring(current: newKey, retired: retired + [RetiredBackupKey(key: current, retiredAt: date)])
    }

    // MARK: Stored form

    /// The retired keys as the catalog keeps them (sealed under the master key): a JSON array of
    /// `{"id", "key" (base64), "retiredAt"}`.
    package func encodedRetired() -> String {
        let entries = retired.map { StoredKey(id: $0.key.id, key: $0.key.base64, retiredAt: $0.retiredAt) }
        return String(decoding: (try? Self.encoder.encode(entries)) ?? Data("[]".utf8), as: UTF8.self)
    }

    /// Parses `encodedRetired()`'s form. A key whose fingerprint does not match its bytes is refused:
    /// the stored list was damaged, and a backup must never be read with the wrong key silently.
    package static func decodeRetired(_ text: String) throws(BackupError) -> [RetiredBackupKey] {
        guard let entries = try? decoder.decode([StoredKey].self, from: Data(text.utf8)) else {
            throw BackupError(.backupKeyMissing, "The catalog's list of retired backup keys cannot be read.")
        }
        var keys: [RetiredBackupKey] = []
        for entry in entries {
            let key = try BackupKey(base64: entry.key)
            guard key.id == entry.id else {
                throw BackupError(.backupKeyMissing, "The retired backup key \(entry.id) in the catalog does not match its fingerprint.")
            }
            keys.append(RetiredBackupKey(key: key, retiredAt: entry.retiredAt))
        }
        return keys
    }

    private struct StoredKey: Codable {
        var id: String
        var key: String
        var retiredAt: Date
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

/// A key backups are no longer made with, kept to read the backups made with it.
package struct RetiredBackupKey: Sendable {
    package var key: BackupKey
    package var retiredAt: Date

    package init(key: BackupKey, retiredAt: Date) {
        self.key = key
        self.retiredAt = retiredAt
    }
}
