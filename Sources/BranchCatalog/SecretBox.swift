import BranchCore
import Crypto
import Foundation

/// Seals and opens the secrets the catalog keeps (project role passwords, JWT secrets, webhook
/// URLs, the pooler's admin password) with AES-256-GCM under a key derived from the master key.
///
/// A sealed value is text: `enc:v1:` + base64(nonce | ciphertext | tag), so a value written before
/// secrets were sealed (no prefix) can be told apart and sealed at the next start. Each value is
/// bound to its purpose (e.g. `project.password`) as associated data: a sealed value copied into
/// another column does not open.
package struct SecretBox: Sendable, CustomStringConvertible {
    /// What every sealed value starts with.
    package static let prefix = "enc:v1:"

    private let key: SymmetricKey
    /// The master key's fingerprint, stored in the catalog to tell a wrong key at start.
    package let keyID: String

    package init(masterKey: MasterKey) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: masterKey.key, salt: [UInt8](), info: Array("branch-catalog-secrets".utf8), outputByteCount: 32)
        keyID = masterKey.id
    }

    /// A box with a new random key, for catalogs that live only as long as a test.
    package static func ephemeral() -> SecretBox { SecretBox(masterKey: .generate()) }

    package var description: String { "SecretBox(keyID: \(keyID))" }

    /// Whether `value` is sealed (by any version of the format), rather than a plain old value.
    package static func isSealed(_ value: String) -> Bool { value.hasPrefix("enc:") }

    /// `plaintext` sealed for `purpose`, with a fresh random nonce.
    package func seal(_ plaintext: String, purpose: String) -> String {
        // Only fails for a nonce or key of the wrong size, which cannot happen here.
        let box = try! AES.GCM.seal(Data(plaintext.utf8), using: key, authenticating: Data(purpose.utf8))
        return Self.prefix + box.combined!.base64EncodedString()
    }

    /// The plaintext of a value sealed for `purpose`; a plain value (no prefix) is returned as it is.
    /// A sealed value that does not open under this key is a `master_key_mismatch`.
    package func open(_ value: String, purpose: String) throws(CatalogError) -> String {
        guard Self.isSealed(value) else { return value }
        guard value.hasPrefix(Self.prefix) else {
            throw CatalogError(
                .masterKeyMismatch, "The catalog's \(purpose) was sealed in a format this version cannot read.",
                hint: "Run the version of Branch that wrote it.")
        }
        guard let combined = Data(base64Encoded: String(value.dropFirst(Self.prefix.count))),
            let box = try? AES.GCM.SealedBox(combined: combined),
            let plaintext = try? AES.GCM.open(box, using: key, authenticating: Data(purpose.utf8))
        else {
            throw CatalogError(
                .masterKeyMismatch, "A \(purpose) in the catalog does not open with the master key \(keyID): it was sealed with another key, or altered.",
                hint: Self.mismatchHint)
        }
        return String(decoding: plaintext, as: UTF8.self)
    }

    /// `value` sealed unless it is nil or already sealed.
    package func sealIfPlain(_ value: String?, purpose: String) -> String? {
        guard let value, !Self.isSealed(value) else { return value }
        return seal(value, purpose: purpose)
    }

    static let mismatchHint =
        "Start `branch serve` with the master key this pool was first started with (`--master-key-file`, default "
        + "\(MasterKey.defaultPath)); restore it from your backup. See docs/security.md."
}
