import BranchCore
import Crypto
import Foundation

/// The 256-bit key the catalog's secrets are sealed with, kept in a file outside the pool
/// (default `/etc/branch/master.key`: base64, mode 0600, in a 0700 directory) so a copy of the
/// pool alone does not give them away.
///
/// `id` is a fingerprint that is safe to store and show; `description`, reflection and errors
/// never contain key material.
package struct MasterKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Where `branch serve` keeps the key when `--master-key-file` is not given.
    package static let defaultPath = "/etc/branch/master.key"

    let key: SymmetricKey

    init(key: SymmetricKey) {
        precondition(key.bitCount == 256)
        self.key = key
    }

    /// Parses standard base64 of exactly 32 bytes; surrounding whitespace is ignored.
    package init(base64: String) throws(CatalogError) {
        let trimmed = base64.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64Encoded: trimmed) else {
            throw CatalogError(.masterKeyInvalid, "The master key is not valid base64.", hint: Self.formatHint)
        }
        guard data.count == 32 else {
            throw CatalogError(.masterKeyInvalid, "The master key must be 32 bytes; it decodes to \(data.count).", hint: Self.formatHint)
        }
        self.init(key: SymmetricKey(data: data))
    }

    /// A new random key.
    package static func generate() -> MasterKey { MasterKey(key: SymmetricKey(size: .bits256)) }

    /// The key as standard base64, as the key file holds it. Handle with care.
    package var base64: String { key.withUnsafeBytes { Data($0).base64EncodedString() } }

    /// A fingerprint of the key, safe to store and print: the first 16 hex digits of
    /// HMAC-SHA256(key, "branch-master-key-id"). Tells a wrong key from a damaged value.
    package var id: String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("branch-master-key-id".utf8), using: key)
        return mac.prefix(8).map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    package var description: String { "MasterKey(id: \(id))" }
    package var debugDescription: String { description }
    /// Keeps `dump` and reflection from printing the key bytes.
    package var customMirror: Mirror { Mirror(self, children: ["id": id]) }

    static let formatHint = "The file holds 32 random bytes in base64, e.g. from `head -c 32 /dev/urandom | base64`."

    // MARK: The key file

    /// Reads the key at `path`, or makes a new one there when no file exists (its directory,
    /// when missing, is made with mode 0700). `created` says which, so a start that fails can
    /// take a key it just made back. A file readable or writable by group or others is refused.
    package static func loadOrCreate(path: String) throws(CatalogError) -> (key: MasterKey, created: Bool) {
        let text: String
        let created: Bool
        do {
            (text, created) = try KeyFile.readOrCreate(path, label: "master key file") { generate().base64 }
        } catch {
            throw CatalogError(.masterKeyInvalid, error.message, hint: error.hint)
        }
        do {
            return (try MasterKey(base64: text), created)
        } catch {
            throw CatalogError(.masterKeyInvalid, "The master key file \(path) is damaged: \(error.message)", hint: error.hint)
        }
    }

    /// Removes a key file this start made, when the start failed before anything was sealed with it.
    package static func remove(createdAt path: String) { KeyFile.remove(createdAt: path) }
}

extension CatalogError {
    /// The master key file was missing, so a start made a new key, but the catalog is sealed with
    /// another one (`error`): the file was lost or the path is wrong.
    package static func masterKeyMissing(_ path: String, catalogError error: CatalogError) -> CatalogError {
        CatalogError(
            .masterKeyMismatch, "There is no master key file at \(path), and this pool's catalog is sealed with another key. \(error.message)",
            hint: "Put the master key file this pool was first started with back at \(path), or pass its path with `--master-key-file` "
                + "(the key this start made was not kept). See docs/security.md.")
    }
}
