@testable import BranchEngine
import BranchCore
import Foundation
import Testing

@Suite("Releases: versions, manifests, signatures")
struct ReleaseTests {
    @Test("versions compare field by field; a suffix is older than the release; junk is refused")
    func versions() throws {
        let v = { (text: String) throws -> ReleaseVersion in try #require(ReleaseVersion(text)) }
        #expect(try v("0.10.0") > v("0.9.3"))
        #expect(try v("1.0.0") > v("1.0.0-rc2"))
        #expect(try v("1.0.0-rc10") > v("1.0.0-rc2"))
        #expect(try v("2.0.0") == v("2.0.0"))
        #expect(try !(v("1.2.3") < v("1.2.3")))
        for bad in ["1.2", "1.2.3.4", "v1.2.3", "1.-2.3", "1.2.3-", "1.2.x", ""] { #expect(ReleaseVersion(bad) == nil, "\(bad)") }
    }

    @Test("a manifest round-trips; bad versions, hashes and missing fields are refused")
    func manifests() throws {
        let manifest = ReleaseManifest(version: "1.4.0", minimumCatalogVersion: 5, sha256: String(repeating: "ab", count: 32), builtAt: "2026-12-05T10:00:00Z")
        #expect(try ReleaseManifest.parse(manifest.encoded()) == manifest)
        var bad = manifest
        bad.version = "latest"
        #expect(throws: ReleaseManifestError.self) { try ReleaseManifest.parse(bad.encoded()) }
        bad = manifest
        bad.sha256 = String(repeating: "AB", count: 32)
        #expect(throws: ReleaseManifestError.self) { try ReleaseManifest.parse(bad.encoded()) }
        bad = manifest
        bad.minimumCatalogVersion = 0
        #expect(throws: ReleaseManifestError.self) { try ReleaseManifest.parse(bad.encoded()) }
        #expect(throws: ReleaseManifestError.self) { try ReleaseManifest.parse(Data(#"{"version":"1.0.0"}"#.utf8)) }
    }

    @Test("a signature verifies with its key only, and only over the exact bytes")
    func signatures() throws {
        let key = ReleaseKeys.generate()
        let message = Data("manifest".utf8)
        let signature = try #require(ReleaseKeys.sign(message, privateKey: key.privateKey))
        let keys = ReleaseKeys(base64: [key.publicKey])
        #expect(keys.keys.count == 1)
        #expect(keys.verify(signature, over: message))
        #expect(!keys.verify(signature, over: Data("manifest ".utf8)))
        #expect(!ReleaseKeys(base64: [ReleaseKeys.generate().publicKey]).verify(signature, over: message))
        #expect(ReleaseKeys.sign(message, privateKey: "not a key") == nil)
        #expect(ReleaseKeys.pinned.allSatisfy { ReleaseKeys.publicKey(base64: $0) != nil })
        let generated = ReleaseKeys.generate()
        #expect(ReleaseKeys.isPrivateKey(generated.privateKey) && ReleaseKeys.publicKey(base64: generated.publicKey) != nil)
    }

    @Test("an unpacked release is checked: signature, hash, newer version, catalog schema")
    func verification() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("release-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = Data("#!/bin/sh\necho hello\n".utf8)
        try binary.write(to: URL(fileURLWithPath: "\(directory)/branch"))
        let key = ReleaseKeys.generate()
        let keys = ReleaseKeys(base64: [key.publicKey])
        func write(_ manifest: ReleaseManifest, signer: String = key.privateKey) throws {
            let bytes = manifest.encoded()
            try bytes.write(to: URL(fileURLWithPath: "\(directory)/manifest.json"))
            let signature = try #require(ReleaseKeys.sign(bytes, privateKey: signer))
            try (signature.base64EncodedString() + "\n").write(toFile: "\(directory)/manifest.sig", atomically: true, encoding: .utf8)
        }
        let digest = try #require(FileDigest.sha256("\(directory)/branch"))
        let good = ReleaseManifest(version: "2.0.0", minimumCatalogVersion: 3, sha256: digest, builtAt: "2026-12-05T10:00:00Z")
        func code(_ body: () async throws -> ReleaseManifest) async -> ErrorCode? {
            do {
                _ = try await body()
                return nil
            } catch let error as EngineError {
                return error.code
            } catch {
                return .internalError
            }
        }

        try write(good)
        #expect(try await ReleaseArchive.verify(directory, keys: keys, running: "1.0.0", catalogVersion: 7) == good)
        #expect(await code { try await ReleaseArchive.verify(directory, keys: keys, running: "2.0.0", catalogVersion: 7) } == .releaseNotNewer)
        #expect(await code { try await ReleaseArchive.verify(directory, keys: keys, running: "1.0.0", catalogVersion: 2) } == .releaseIncompatible)
        try write(good, signer: ReleaseKeys.generate().privateKey)
        #expect(await code { try await ReleaseArchive.verify(directory, keys: keys, running: "1.0.0", catalogVersion: 7) } == .releaseInvalid)
        var tampered = good
        tampered.sha256 = String(repeating: "0", count: 64)
        try write(tampered)
        #expect(await code { try await ReleaseArchive.verify(directory, keys: keys, running: "1.0.0", catalogVersion: 7) } == .releaseInvalid)
    }
}
