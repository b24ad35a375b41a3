package import BranchCore
import BranchSystem
package import Crypto
package import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The Ed25519 keys a release's `manifest.sig` must verify against: the project's release key,
/// pinned in the binary, and the keys an operator trusts for builds they make themselves
/// (`<dir of the master key>/release-keys/*.pub`, root-owned and writable by root only).
package struct ReleaseKeys: Sendable {
    /// The project's release signing key (base64 of the raw 32-byte Ed25519 public key).
    package static let pinned = ["MudGW2YHHCvFhlDBh6VxpeWT8/MkZxTJEaNx4GPT0os="]

    package let keys: [Curve25519.Signing.PublicKey]

    package init(keys: [Curve25519.Signing.PublicKey]) { self.keys = keys }

    /// The pinned keys and those in `directory` (`release-keys` beside the master key). A key
    /// file that is not owned by root or that group or others may write is refused, not skipped:
    /// whoever can write there could sign a release.
    package static func trusted(extraDirectory directory: String) throws(EngineError) -> ReleaseKeys {
        var keys = pinned.compactMap { Data(base64Encoded: $0).flatMap { try? Curve25519.Signing.PublicKey(rawRepresentation: $0) } }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return ReleaseKeys(keys: keys) }
        try checkOwnership(directory, directory: true)
        for name in names.sorted() where name.hasSuffix(".pub") {
            let path = "\(directory)/\(name)"
            try checkOwnership(path, directory: false)
            guard let text = Files.read(path), let key = publicKey(base64: text) else {
                throw EngineError(
                    .releaseInvalid, "\(path) is not an Ed25519 public key.",
                    hint: "A release key file holds one line: the base64 of the raw 32-byte key, as `branch release keygen` writes it.")
            }
            keys.append(key)
        }
        return ReleaseKeys(keys: keys)
    }

    /// Whether `signature` over `message` verifies with one of the keys.
    package func verify(_ signature: Data, over message: Data) -> Bool {
        keys.contains { $0.isValidSignature(signature, for: message) }
    }

    package static func publicKey(base64 text: String) -> Curve25519.Signing.PublicKey? {
        Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)).flatMap { try? Curve25519.Signing.PublicKey(rawRepresentation: $0) }
    }

    /// A new signing key pair, each as base64 of its raw bytes.
    package static func generate() -> (privateKey: String, publicKey: String) {
        let key = Curve25519.Signing.PrivateKey()
        return (key.rawRepresentation.base64EncodedString(), key.publicKey.rawRepresentation.base64EncodedString())
    }

    package static func isPrivateKey(_ text: String) -> Bool { privateKey(base64: text) != nil }

    /// The Ed25519 signature of `message` with a base64 private key (nil: not a key).
    package static func sign(_ message: Data, privateKey text: String) -> Data? {
        try? privateKey(base64: text)?.signature(for: message)
    }

    /// The keys given as base64 public keys (those that parse).
    package init(base64 keys: [String]) { self.keys = keys.compactMap { Self.publicKey(base64: $0) } }

    package static func privateKey(base64 text: String) -> Curve25519.Signing.PrivateKey? {
        Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)).flatMap { try? Curve25519.Signing.PrivateKey(rawRepresentation: $0) }
    }

    private static func checkOwnership(_ path: String, directory: Bool) throws(EngineError) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let permissions = (attributes[.posixPermissions] as? NSNumber)?.intValue, let owner = (attributes[.ownerAccountID] as? NSNumber)?.intValue
        else { throw EngineError(.releaseInvalid, "Could not read \(path).") }
        let writableByOthers = permissions & 0o022 != 0
        guard owner == 0, !writableByOthers else {
            throw EngineError(
                .releaseInvalid, "\(path) is \(owner == 0 ? "writable by group or others" : "not owned by root"); its keys are not trusted.",
                hint: "Make it root-owned and writable by root only: chown root \(path) && chmod \(directory ? "0755" : "0644") \(path).")
        }
    }
}

/// SHA-256 of a file, read in 1 MiB pieces (a binary is a few hundred MB): blocking, so callers
/// run it on a thread of their own.
package enum FileDigest {
    package static func sha256(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
