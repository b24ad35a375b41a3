package import BranchCore
import BranchCatalog
import BranchSystem
import Crypto
package import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A release archive: a tar holding the `branch` binary, `manifest.json` and `manifest.sig` (an
/// Ed25519 signature over the manifest's exact bytes).
package enum ReleaseArchive {
    package static let binaryName = "branch"
    package static let manifestName = "manifest.json"
    package static let signatureName = "manifest.sig"

    /// Builds and signs an archive of `binary` as release `version` (`branch release pack`).
    package static func pack(
        binary: String, version: String, minimumCatalogVersion: Int = Catalog.schemaVersion, signingKey: String, to output: String
    ) async throws -> ReleaseManifest {
        guard let key = ReleaseKeys.privateKey(base64: signingKey) else {
            throw EngineError(.invalidRequest, "The signing key is not an Ed25519 private key.", hint: "Make one with `branch release keygen --out FILE`.")
        }
        guard ReleaseVersion(version) != nil else {
            throw EngineError(.invalidRequest, "'\(version)' is not a release version.", hint: "Use MAJOR.MINOR.PATCH, e.g. 1.4.0.")
        }
        guard let digest = try await BlockingWork.run({ FileDigest.sha256(binary) }) else {
            throw EngineError(.fileError, "Could not read \(binary).")
        }
        let manifest = ReleaseManifest(
            version: version, minimumCatalogVersion: minimumCatalogVersion, sha256: digest,
            builtAt: ISO8601DateFormatter().string(from: Date()))
        let bytes = manifest.encoded()
        let signature = try key.signature(for: bytes)
        let staging = "\(output).staging-\(Identifiers.shortID(length: 8))"
        try Files.ensureDirectory(staging, mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try await BlockingWork.run {
            try FileManager.default.copyItem(atPath: binary, toPath: "\(staging)/\(binaryName)")
            chmod("\(staging)/\(binaryName)", 0o755)
            try bytes.write(to: URL(fileURLWithPath: "\(staging)/\(manifestName)"))
            try (signature.base64EncodedString() + "\n").write(toFile: "\(staging)/\(signatureName)", atomically: true, encoding: .utf8)
        }
        try await Command.run("tar", ["-cf", output, "--owner=0", "--group=0", "-C", staging, binaryName, manifestName, signatureName])
        return manifest
    }

    /// Unpacks `archive` into `directory` (which must exist and be empty); only the three expected
    /// members are accepted, so an archive cannot write anywhere else.
    static func unpack(_ archive: String, into directory: String) async throws {
        let listed = try await Command.run("tar", ["-tf", archive], check: false)
        guard listed.succeeded else {
            throw EngineError(.releaseInvalid, "\(archive) is not a tar archive: \(listed.tail)", hint: "Give the release archive (`branch-<version>.tar`).")
        }
        let members = listed.stdout.split(separator: "\n").map { $0.hasPrefix("./") ? String($0.dropFirst(2)) : String($0) }.filter { !$0.isEmpty && $0 != "." }
        guard Set(members) == [binaryName, manifestName, signatureName], members.count == 3 else {
            throw EngineError(
                .releaseInvalid, "The archive holds \(members.prefix(6).joined(separator: ", ")), not exactly \(binaryName), \(manifestName) and \(signatureName).",
                hint: "Build releases with `branch release pack`.")
        }
        let extracted = try await Command.run(
            "tar", ["-xf", archive, "-C", directory, "--no-same-owner", "--no-same-permissions"] + listed.stdout.split(separator: "\n").map(String.init),
            check: false)
        guard extracted.succeeded else { throw EngineError(.releaseInvalid, "Could not unpack \(archive): \(extracted.tail)") }
        for name in [binaryName, manifestName, signatureName] {
            let type = (try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)"))?[.type] as? FileAttributeType
            guard type == .typeRegular else {
                throw EngineError(.releaseInvalid, "The archive's \(name) is not a regular file.")
            }
        }
    }

    /// Checks an unpacked release: the signature over the manifest against `keys`, the manifest,
    /// the binary's hash, that it is newer than `running` and can open a catalog at `catalogVersion`.
    static func verify(
        _ directory: String, keys: ReleaseKeys, running: String, catalogVersion: Int, allowSameVersion: Bool = false
    ) async throws -> ReleaseManifest {
        guard let bytes = FileManager.default.contents(atPath: "\(directory)/\(manifestName)"),
            let signatureText = Files.read("\(directory)/\(signatureName)"),
            let signature = Data(base64Encoded: signatureText.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw EngineError(.releaseInvalid, "The release's manifest or signature cannot be read.", hint: "Build releases with `branch release pack`.")
        }
        guard keys.verify(signature, over: bytes) else {
            throw EngineError(
                .releaseInvalid, "The release's signature does not verify with any trusted release key; nothing was changed.",
                hint: "Use an official release, or add the public key you signed it with to the release-keys directory beside the master key (see docs/security.md).")
        }
        let manifest: ReleaseManifest
        do {
            manifest = try ReleaseManifest.parse(bytes)
        } catch {
            throw EngineError(.releaseInvalid, error.description)
        }
        let binary = "\(directory)/\(binaryName)"
        guard try await BlockingWork.run({ FileDigest.sha256(binary) }) == manifest.sha256 else {
            throw EngineError(.releaseInvalid, "The release's binary does not match the SHA-256 its manifest names; nothing was changed.", hint: "Download the release again.")
        }
        if let new = ReleaseVersion(manifest.version), let current = ReleaseVersion(running), !(new > current || (allowSameVersion && new == current)) {
            throw EngineError(
                .releaseNotNewer, "Release \(manifest.version) is not newer than the running \(running).",
                hint: "Upgrade to a newer release; to go back to the previous binary use `branch upgrade --rollback`.")
        }
        guard manifest.minimumCatalogVersion <= catalogVersion else {
            throw EngineError(
                .releaseIncompatible,
                "Release \(manifest.version) needs catalog schema \(manifest.minimumCatalogVersion) or newer; this catalog is at \(catalogVersion).",
                hint: "Upgrade through an intermediate release first (see the release notes).")
        }
        return manifest
    }
}
