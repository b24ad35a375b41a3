import BranchCore
import Crypto
import Foundation

/// The 256-bit secret every backup is encrypted and authenticated with.
///
/// Only derived subkeys touch data (HKDF-SHA256): one encrypts chunks, one authenticates manifests,
/// one seals manifest secrets. `id` is a fingerprint that is safe to store and show; `description`
/// and errors never contain key material.
package struct BackupKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Environment variable `load(file:environment:)` reads when no key file is given.
    package static let environmentVariable = "BRANCH_BACKUP_KEY"

    let key: SymmetricKey

    init(key: SymmetricKey) {
        precondition(key.bitCount == 256)
        self.key = key
    }

    /// Parses standard base64 of exactly 32 bytes; surrounding whitespace is ignored.
    package init(base64: String) throws(BackupError) {
        let trimmed = base64.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64Encoded: trimmed) else {
            throw BackupError(.backupKeyMissing, "The backup key is not valid base64.")
        }
        guard data.count == 32 else {
            throw BackupError(.backupKeyMissing, "The backup key must be 32 bytes; it decodes to \(data.count).")
        }
        self.init(key: SymmetricKey(data: data))
    }

    /// Reads the key from `file` if given, else from `BRANCH_BACKUP_KEY` in `environment`.
    /// The file must not be readable or writable by group or others.
    package static func load(file: String?, environment: [String: String]) throws(BackupError) -> BackupKey {
        if let file {
            return try BackupKey(base64: readKeyFile(file))
        }
        if let value = environment[environmentVariable], !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return try BackupKey(base64: value)
        }
        throw BackupError(.backupKeyMissing, "No backup key is configured.")
    }

    /// A new random key.
    package static func generate() -> BackupKey {
        BackupKey(key: SymmetricKey(size: .bits256))
    }

    /// The key as standard base64, for `branch backup keygen` to print once. Handle with care.
    package var base64: String {
        key.withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// A fingerprint of the key, safe to store in manifests and print: the first 16 hex digits of
    /// HMAC-SHA256(key, "branch-backup-key-id"). It reveals nothing about the key but tells a
    /// wrong key from a corrupt backup.
    package var id: String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("branch-backup-key-id".utf8), using: key)
        return String(ArchiveFormat.hex(mac).prefix(16))
    }

    package var description: String { "BackupKey(id: \(id))" }
    package var debugDescription: String { description }
    /// Keeps `dump` and reflection from printing the key bytes.
    package var customMirror: Mirror { Mirror(self, children: ["id": id]) }

    /// Subkey that authenticates manifests (HMAC-SHA256).
    var manifestKey: SymmetricKey { derive(info: "branch-backup-manifest") }

    /// Subkey that seals the confidential `secrets` of a manifest (AES-256-GCM, random nonces).
    /// Separate from the chunk key so random nonces never share a key with counter nonces.
    var secretsKey: SymmetricKey { derive(info: "branch-backup-secrets") }

    /// Subkey that encrypts the chunks of backup `backupID` (AES-256-GCM). The backup id is the
    /// HKDF salt, so every backup has its own key: chunk nonces (4 random bytes + chunk index)
    /// could collide across many backups under one key, never within one.
    func chunkKey(backupID: String) -> SymmetricKey {
        derive(info: "branch-backup-chunks", salt: Array(backupID.utf8))
    }

    private func derive(info: String, salt: [UInt8] = []) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, salt: salt, info: Array(info.utf8), outputByteCount: 32)
    }

    /// Where `branch serve` makes the key at the first start when none is given: beside the master
    /// key file (`/etc/branch/backup.key` by default), outside the pool and its backups.
    package static func defaultPath(besideMasterKey masterKeyFile: String) -> String {
        let directory = (masterKeyFile as NSString).deletingLastPathComponent
        return (directory.isEmpty ? "." : directory) + "/backup.key"
    }

    /// Reads the key file at `path`, or makes a new key there (mode 0600, as `branch backup keygen`
    /// writes one) when there is none. `created` says which.
    package static func loadOrCreate(path: String) throws(BackupError) -> (key: BackupKey, created: Bool) {
        let text: String
        let created: Bool
        do {
            (text, created) = try KeyFile.readOrCreate(path, label: "backup key file") { generate().base64 }
        } catch {
            throw BackupError(.backupKeyMissing, [error.message, error.hint].compactMap { $0 }.joined(separator: " "))
        }
        return (try BackupKey(base64: text), created)
    }

    private static func readKeyFile(_ path: String) throws(BackupError) -> String {
        do {
            return try KeyFile.read(path, label: "backup key file")
        } catch {
            throw BackupError(.backupKeyMissing, [error.message, error.hint].compactMap { $0 }.joined(separator: " "))
        }
    }
}
