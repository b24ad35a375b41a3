import BranchCore
import Crypto
import Foundation
import Testing

@testable import BranchBackup

#if canImport(Glibc)
import Glibc
#endif

// MARK: Helpers

/// Writes `data` as one archive, in pieces of the given sizes (cycled), and returns the stored
/// bytes and the manifest for them.
private func archive(
    _ data: [UInt8], id: String = "bk-1", key: BackupKey, chunkSize: Int = ArchiveWriter.defaultChunkSize, pieces: [Int] = [65_536]
) throws -> (stored: [UInt8], manifest: BackupManifest) {
    let writer = try ArchiveWriter(backupID: id, key: key, chunkSize: chunkSize)
    var stored: [UInt8] = []
    var offset = 0
    var piece = 0
    while offset < data.count {
        let end = min(data.count, offset + pieces[piece % pieces.count])
        stored += try writer.write(data[offset..<end])
        offset = end
        piece += 1
    }
    stored += try writer.finish()
    let summary = try #require(writer.summary)
    #expect(summary.storedBytes == stored.count)
    return (stored, manifest(id: id, summary))
}

private func manifest(id: String, _ summary: ArchiveSummary) -> BackupManifest {
    let start = Date(timeIntervalSince1970: 1_780_000_000)
    return BackupManifest(
        id: id, project: "shop", branch: "main", snapshotID: "snap-1", parentID: nil, postgresVersion: "17",
        createdAt: start, startedAt: start, finishedAt: start.addingTimeInterval(12.5), archive: summary)
}

/// Reads stored bytes back, fed in pieces of the given sizes (cycled).
private func restore(_ stored: [UInt8], manifest: BackupManifest, key: BackupKey, pieces: [Int] = [65_536]) throws -> [UInt8] {
    let reader = try ArchiveReader(manifest: manifest, key: key)
    var output: [UInt8] = []
    var offset = 0
    var piece = 0
    while offset < stored.count {
        let end = min(stored.count, offset + pieces[piece % pieces.count])
        reader.write(stored[offset..<end])
        while let plaintext = try reader.read() { output += plaintext }
        offset = end
        piece += 1
    }
    try reader.finish()
    return output
}

/// Frame boundaries of stored bytes, from the manifest.
private func frames(_ stored: [UInt8], _ manifest: BackupManifest) -> [ArraySlice<UInt8>] {
    var offset = 0
    return manifest.chunks.map { chunk in
        defer { offset += chunk.frameBytes }
        return stored[offset..<offset + chunk.frameBytes]
    }
}

/// Pseudo-random bytes at C speed (AES-GCM of zeros), so tests can make lots of incompressible data.
private func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    let key = SymmetricKey(data: ArchiveFormat.bigEndian(seed) + [UInt8](repeating: 7, count: 24))
    let nonce = try! AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12))
    return Array(try! AES.GCM.seal([UInt8](repeating: 0, count: count), using: key, nonce: nonce).ciphertext)
}

/// Mixed data: random stretches, runs of zeros and repeated text.
private func mixedBytes(_ count: Int) -> [UInt8] {
    var data: [UInt8] = []
    data.reserveCapacity(count)
    var block: UInt64 = 0
    let text = Array("INSERT INTO orders VALUES (42, 'widget', 19.99, now());\n".utf8)
    while data.count < count {
        let size = min(count - data.count, 300_007)
        switch block % 3 {
        case 0: data += randomBytes(size, seed: block)
        case 1: data += [UInt8](repeating: 0, count: size)
        default: data += repeated(text, count: size)
        }
        block += 1
    }
    return data
}

/// `pattern` repeated to `count` bytes (by doubling, so it is quick even in debug builds).
private func repeated(_ pattern: [UInt8], count: Int) -> [UInt8] {
    var out = pattern
    while out.count < count { out += out }
    return Array(out.prefix(count))
}

private func expectBackupError(
    _ kind: ErrorCode, mentioning words: [String] = [], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected a \(kind) error", sourceLocation: sourceLocation)
    } catch let error as BackupError {
        #expect(error.code == kind, "\(error.message)", sourceLocation: sourceLocation)
        for word in words {
            #expect(error.message.contains(word), "\"\(error.message)\" does not mention \(word)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

private let testKey = BackupKey.generate()

// MARK: Round trips

@Suite("Backup archive: round trips")
struct BackupArchiveRoundTripTests {
    @Test("small and empty streams come back identical")
    func small() throws {
        for data in [[], Array("hello, branch".utf8), randomBytes(1000, seed: 1)] {
            let (stored, manifest) = try archive(data, key: testKey)
            #expect(manifest.chunks.count == 1)
            #expect(try restore(stored, manifest: manifest, key: testKey, pieces: [1]) == data)
        }
    }

    @Test("a 20 MB mixed stream, written and read in odd pieces, comes back identical")
    func multiChunk() throws {
        let data = mixedBytes(20_000_000)
        let (stored, manifest) = try archive(data, key: testKey, chunkSize: 1 << 20, pieces: [1, 7, 4093, 65_537, 1_000_003, 13])
        #expect(manifest.chunks.count > 3)
        #expect(manifest.chunks.dropLast().allSatisfy { $0.compressedBytes == 1 << 20 })
        #expect(manifest.rawBytes == data.count)
        #expect(manifest.compressedBytes == manifest.chunks.reduce(0) { $0 + $1.compressedBytes })
        #expect(manifest.storedBytes == stored.count)
        let output = try restore(stored, manifest: manifest, key: testKey, pieces: [3, 1_048_579, 999, 17, 4_194_333])
        #expect(output.count == data.count)
        #expect(output == data)
    }

    @Test("repetitive data is compressed")
    func compression() throws {
        let data = mixedBytes(3_000_000)  // a third random, two thirds repetitive
        let (stored, manifest) = try archive(data, key: testKey)
        #expect(manifest.compressedBytes < data.count / 2)
        #expect(stored.count < data.count / 2)
        let zeros = [UInt8](repeating: 0, count: 8_000_000)
        let (zeroStored, _) = try archive(zeros, key: testKey)
        #expect(zeroStored.count < 10_000)
    }

    @Test("the plaintext is not visible in the stored bytes")
    func encrypted() throws {
        let data = [UInt8](repeating: UInt8(ascii: "A"), count: 100) + Array("secret-password-1234".utf8)
        let writer = try ArchiveWriter(backupID: "bk-1", key: testKey, chunkSize: 4096, compressionLevel: 1)
        let stored = try writer.write(data) + writer.finish()
        #expect(!String(decoding: stored, as: UTF8.self).contains("secret-password"))
    }

    @Test("zstd wrapper round trip, and corrupt input is an integrity error")
    func zstd() throws {
        let data = mixedBytes(1_000_000)
        let compressor = try ZstdCompressor(level: 3)
        let compressed = try compressor.compress(data) + compressor.finish()
        let decompressor = try ZstdDecompressor()
        #expect(try decompressor.decompress(compressed) == data)
        #expect(decompressor.frameEnded)

        var corrupt = compressed
        corrupt[corrupt.count / 2] ^= 0xff
        expectBackupError(.backupIntegrityFailed) { _ = try ZstdDecompressor().decompress(corrupt) }
        expectBackupError(.backupFailed) { _ = try ZstdCompressor(level: 22) }
    }
}

// MARK: Tampering

@Suite("Backup archive: tampering is detected")
struct BackupArchiveTamperTests {
    /// A backup of five chunks of 64 KiB (random data, so chunk count is predictable).
    static let data = randomBytes(300_000, seed: 9)
    static let chunkSize = 65_536

    func sample(id: String = "bk-1") throws -> (stored: [UInt8], manifest: BackupManifest) {
        let result = try archive(Self.data, id: id, key: testKey, chunkSize: Self.chunkSize)
        #expect(result.manifest.chunks.count == 5)
        return result
    }

    @Test("a flipped byte names the chunk", arguments: [0, 2, 4])
    func flippedByte(chunk: Int) throws {
        var (stored, manifest) = try sample()
        let frame = frames(stored, manifest)[chunk]
        stored[frame.startIndex + 100] ^= 0x01
        expectBackupError(.backupIntegrityFailed, mentioning: ["chunk \(chunk)", "SHA-256"]) { _ = try restore(stored, manifest: manifest, key: testKey) }
    }

    @Test("a corrupt length prefix is caught before buffering")
    func corruptLength() throws {
        var (stored, manifest) = try sample()
        stored[0] = 0x7f
        expectBackupError(.backupIntegrityFailed, mentioning: ["chunk 0", "long"]) { _ = try restore(stored, manifest: manifest, key: testKey) }
    }

    @Test("a truncated last frame or a missing last chunk")
    func truncation() throws {
        let (stored, manifest) = try sample()
        expectBackupError(.backupIntegrityFailed, mentioning: ["chunk 4", "cut short"]) {
            _ = try restore(Array(stored.dropLast(10)), manifest: manifest, key: testKey)
        }
        let withoutLast = Array(stored.dropLast(manifest.chunks[4].frameBytes))
        expectBackupError(.backupIntegrityFailed, mentioning: ["chunk 4", "missing"]) {
            _ = try restore(withoutLast, manifest: manifest, key: testKey)
        }
    }

    @Test("bytes after the last chunk")
    func trailingBytes() throws {
        let (stored, manifest) = try sample()
        expectBackupError(.backupIntegrityFailed, mentioning: ["the last chunk (4)"]) {
            _ = try restore(stored + [1, 2, 3], manifest: manifest, key: testKey)
        }
        expectBackupError(.backupIntegrityFailed, mentioning: ["the last chunk (4)"]) {
            _ = try restore(stored + [1, 2, 3, 4, 5, 6], manifest: manifest, key: testKey, pieces: [stored.count])
        }
    }

    @Test("swapped frames")
    func swapped() throws {
        let (stored, manifest) = try sample()
        let parts = frames(stored, manifest)
        let swappedStored = Array(parts[0] + parts[2] + parts[1] + parts[3] + parts[4])
        expectBackupError(.backupIntegrityFailed, mentioning: ["chunk 1"]) { _ = try restore(swappedStored, manifest: manifest, key: testKey) }
    }

    @Test("a frame from another backup")
    func foreignFrame() throws {
        let (stored, manifest) = try sample()
        let (otherStored, otherManifest) = try sample(id: "bk-2")
        let parts = frames(stored, manifest)
        let other = frames(otherStored, otherManifest)
        let mixed = Array(parts[0] + other[1] + parts[2] + parts[3] + parts[4])
        expectBackupError(.backupIntegrityFailed, mentioning: ["chunk 1"]) { _ = try restore(mixed, manifest: manifest, key: testKey) }
    }

    /// The manifest hashes catch the above first; these forge the hashes too (as with an
    /// unverified manifest) to show the AES-GCM binding of position, final flag and backup holds alone.
    @Test("without the manifest's hashes, encryption still binds each chunk to its place")
    func defenseInDepth() throws {
        let (stored, manifest) = try sample()
        let parts = frames(stored, manifest)
        func hash(_ frame: ArraySlice<UInt8>) -> String { ArchiveFormat.hex(SHA256.hash(data: frame)) }

        // Swap chunks 1 and 2, fixing up the hashes.
        var forged = manifest
        forged.chunks[1].sha256 = hash(parts[2])
        forged.chunks[2].sha256 = hash(parts[1])
        expectBackupError(.backupIntegrityFailed, mentioning: ["chunk 1"]) {
            _ = try restore(Array(parts[0] + parts[2] + parts[1] + parts[3] + parts[4]), manifest: forged, key: testKey)
        }

        // Drop the last chunk from data and manifest: chunk 3 was not sealed as final.
        var truncated = manifest
        truncated.chunks.removeLast()
        expectBackupError(.backupIntegrityFailed, mentioning: ["chunk 3", "authentication"]) {
            _ = try restore(Array(parts[0] + parts[1] + parts[2] + parts[3]), manifest: truncated, key: testKey)
        }

        // A chunk of another backup, same key, same position, same nonce salt.
        let (otherStored, otherManifest) = try sample(id: "bk-2")
        var foreign = manifest
        var otherFrame = frames(otherStored, otherManifest)[1]
        let salt = try #require(ArchiveFormat.bytes(hex: manifest.nonceSalt))
        otherFrame.replaceSubrange(otherFrame.startIndex + 4..<otherFrame.startIndex + 8, with: salt)
        foreign.chunks[1].sha256 = hash(otherFrame)
        expectBackupError(.backupIntegrityFailed, mentioning: ["chunk 1", "authentication"]) {
            _ = try restore(Array(parts[0] + otherFrame + parts[2] + parts[3] + parts[4]), manifest: foreign, key: testKey)
        }
    }

    @Test("a wrong key is reported as such, not as corruption")
    func wrongKey() throws {
        let (stored, manifest) = try sample()
        let other = BackupKey.generate()
        expectBackupError(.backupWrongKey, mentioning: [testKey.id, other.id]) { _ = try restore(stored, manifest: manifest, key: other) }
        let signed = try manifest.signed(with: testKey)
        expectBackupError(.backupWrongKey) { _ = try BackupManifest.verified(signed, key: other) }
    }

    @Test("finish before all plaintext was read is a usage error")
    func finishEarly() throws {
        let (stored, manifest) = try sample()
        let reader = try ArchiveReader(manifest: manifest, key: testKey)
        reader.write(stored)
        expectBackupError(.backupFailed, mentioning: ["read"]) { try reader.finish() }
    }
}

// MARK: Manifest

@Suite("Backup manifest")
struct BackupManifestTests {
    func sample() throws -> BackupManifest {
        try archive(randomBytes(200_000, seed: 3), key: testKey, chunkSize: 65_536).manifest
    }

    @Test("signed and verified round trip")
    func roundTrip() throws {
        var manifest = try sample()
        manifest.parentID = "bk-0"
        manifest.kind = .incremental
        let signed = try manifest.signed(with: testKey)
        let json = String(decoding: signed, as: UTF8.self)
        #expect(json.contains(#""signature":""#))
        #expect(json.contains(#""finishedAt":"2026-05-28T20:26:52.500Z""#))
        let back = try BackupManifest.verified(signed, key: testKey)
        #expect(back == manifest)
        // Signing is deterministic, and stable across a verify/sign cycle.
        #expect(try BackupManifest.verified(signed, key: testKey).signed(with: testKey) == signed)
        #expect(try BackupManifest.unverifiedPeek(signed) == manifest)
    }

    @Test("changing a size, a hash, or adding a member breaks the signature")
    func tampering() throws {
        let manifest = try sample()
        let json = String(decoding: try manifest.signed(with: testKey), as: UTF8.self)
        let hash = manifest.chunks[1].sha256
        let edits = [
            json.replacingOccurrences(of: #""rawBytes":200000"#, with: #""rawBytes":200001"#),
            json.replacingOccurrences(of: hash, with: String(hash.reversed())),
            json.replacingOccurrences(of: #""branch":"main""#, with: #""branch":"main","extra":1"#),
            json.replacingOccurrences(of: #""signature":""#, with: #""unsigned":""#),
        ]
        for edited in edits {
            #expect(edited != json)
            expectBackupError(.backupIntegrityFailed, mentioning: ["failed authentication"]) {
                _ = try BackupManifest.verified(Data(edited.utf8), key: testKey)
            }
        }
        expectBackupError(.backupIntegrityFailed) { _ = try BackupManifest.verified(Data("not json".utf8), key: testKey) }

        // A duplicated member is refused, or ignored in favour of the signed value: never read unsigned.
        let duplicated = json.replacingOccurrences(of: #""rawBytes":200000"#, with: #""rawBytes":200000,"rawBytes":1"#)
        do {
            #expect(try BackupManifest.verified(Data(duplicated.utf8), key: testKey) == manifest)
        } catch {
            #expect(error.code == .backupIntegrityFailed)
        }
    }

    @Test("secrets round trip, are confidential, and are authenticated")
    func secrets() throws {
        var manifest = try sample()
        #expect(try manifest.openSecrets(key: testKey) == nil)
        let secret = Data(#"{"rolePassword":"hunter2-very-secret"}"#.utf8)
        try manifest.sealSecrets(secret, key: testKey)
        let signed = try manifest.signed(with: testKey)
        #expect(!String(decoding: signed, as: UTF8.self).contains("hunter2"))
        #expect(try BackupManifest.verified(signed, key: testKey).openSecrets(key: testKey) == secret)

        var tampered = manifest
        let sealedText = try #require(manifest.secrets)
        var sealed = try #require(Data(base64Encoded: sealedText))
        sealed[20] ^= 1
        tampered.secrets = sealed.base64EncodedString()
        expectBackupError(.backupIntegrityFailed, mentioning: ["secrets"]) { _ = try tampered.openSecrets(key: testKey) }

        // Secrets are bound to their backup.
        var moved = try sample()
        moved.id = "bk-other"
        moved.secrets = manifest.secrets
        expectBackupError(.backupIntegrityFailed) { _ = try moved.openSecrets(key: testKey) }
        expectBackupError(.backupWrongKey) { _ = try manifest.openSecrets(key: .generate()) }
    }

    @Test("an unknown format version is refused after authentication")
    func futureVersion() throws {
        var manifest = try sample()
        manifest.formatVersion = 2
        let signed = try manifest.signed(with: testKey)
        expectBackupError(.backupFailed, mentioning: ["format 2"]) { _ = try BackupManifest.verified(signed, key: testKey) }
    }
}

// MARK: Keys

@Suite("Backup key")
struct BackupKeyTests {
    static let base64 = Data((0..<32).map { UInt8($0) }).base64EncodedString()

    @Test("parses base64 of 32 bytes, trimming whitespace")
    func parse() throws {
        let key = try BackupKey(base64: "  \(Self.base64)\n")
        #expect(key.base64 == Self.base64)
        expectBackupError(.backupKeyMissing) { _ = try BackupKey(base64: "not base64!") }
        expectBackupError(.backupKeyMissing, mentioning: ["32 bytes"]) {
            _ = try BackupKey(base64: Data(repeating: 1, count: 31).base64EncodedString())
        }
        // Errors never echo the key.
        do {
            _ = try BackupKey(base64: "c2VjcmV0LWtleS1tYXRlcmlhbA==")
        } catch {
            #expect(!error.message.contains("c2VjcmV0"))
        }
    }

    @Test("loads from the environment, or from a private file")
    func load() throws {
        let fromEnv = try BackupKey.load(file: nil, environment: ["BRANCH_BACKUP_KEY": Self.base64])
        #expect(fromEnv.base64 == Self.base64)
        expectBackupError(.backupKeyMissing, mentioning: ["No backup key"]) { _ = try BackupKey.load(file: nil, environment: [:]) }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("branch-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/backup.key"
        try Data((Self.base64 + "\n").utf8).write(to: URL(fileURLWithPath: path))

        chmod(path, 0o600)
        let fromFile = try BackupKey.load(file: path, environment: ["BRANCH_BACKUP_KEY": BackupKey.generate().base64])
        #expect(fromFile.id == fromEnv.id)

        chmod(path, 0o644)
        expectBackupError(.backupKeyMissing, mentioning: [path, "644", "chmod 600"]) {
            _ = try BackupKey.load(file: path, environment: [:])
        }
        chmod(path, 0o640)
        expectBackupError(.backupKeyMissing) { _ = try BackupKey.load(file: path, environment: [:]) }
        expectBackupError(.backupKeyMissing, mentioning: ["missing.key"]) {
            _ = try BackupKey.load(file: directory + "/missing.key", environment: [:])
        }
    }

    @Test("the key id is stable, distinct per key, and reveals nothing")
    func identity() throws {
        let key = try BackupKey(base64: Self.base64)
        let again = try BackupKey(base64: Self.base64)
        #expect(key.id == again.id)
        #expect(key.id.count == 16)
        #expect(key.id.allSatisfy { $0.isHexDigit })
        #expect(key.id != BackupKey.generate().id)
        let hexKey = ArchiveFormat.hex((0..<32).map { UInt8($0) })
        for shown in [key.description, String(reflecting: key), "\(key)", dumped(key)] {
            #expect(!shown.contains(Self.base64))
            #expect(!shown.contains(hexKey.prefix(16)))
            #expect(shown.contains(key.id))
        }
        #expect(BackupKey.generate().base64 != BackupKey.generate().base64)
    }

    private func dumped(_ value: some Any) -> String {
        var out = ""
        dump(value, to: &out)
        return out
    }
}

// MARK: Bounded memory

@Suite("Backup archive: bounded memory")
struct BackupArchiveMemoryTests {
    @Test("~200 MB through writer and reader in 1 MiB pieces keeps buffers to a few chunks")
    func boundedMemory() throws {
        let pieceSize = 1 << 20
        let pieceCount = 200
        let chunkSize = ArchiveWriter.defaultChunkSize
        /// Piece `i` of the stream: random, zeros (huge expansion on reading) or repetitive.
        let pool = randomBytes(8 << 20, seed: 42)
        let text = repeated(Array("UPDATE accounts SET balance = balance - 10 WHERE id = 7;\n".utf8), count: pieceSize)
        func piece(_ i: Int) -> ArraySlice<UInt8> {
            switch i % 4 {
            case 0, 1:
                // Varying offsets into a pool larger than zstd's window: compresses poorly.
                let offset = (i * 2_654_435) % (pool.count - pieceSize)
                return pool[offset..<offset + pieceSize]
            case 2: return ArraySlice(repeating: 0, count: pieceSize)
            default: return text[...]
            }
        }

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("branch-archive-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        defer { try? FileManager.default.removeItem(atPath: path) }

        // Write: plaintext generated on the fly, frames straight to a file.
        let writer = try ArchiveWriter(backupID: "bk-big", key: testKey)
        let out = try #require(FileHandle(forWritingAtPath: path))
        var written = SHA256()
        for i in 0..<pieceCount {
            let plaintext = piece(i)
            written.update(data: plaintext)
            try out.write(contentsOf: writer.write(plaintext))
        }
        try out.write(contentsOf: writer.finish())
        try out.close()
        let summary = try #require(writer.summary)
        #expect(summary.rawBytes == pieceCount * pieceSize)
        #expect(summary.chunks.count > 20)
        #expect(writer.peakBufferedBytes <= chunkSize + 2 * pieceSize)

        // Read: stored bytes in 1 MiB pieces, plaintext hashed as it comes.
        let manifest = manifest(id: "bk-big", summary)
        let reader = try ArchiveReader(manifest: manifest, key: testKey)
        let input = try #require(FileHandle(forReadingAtPath: path))
        var read = SHA256()
        var largestPiece = 0
        while let stored = try input.read(upToCount: pieceSize), !stored.isEmpty {
            reader.write(stored)
            while let plaintext = try reader.read() {
                largestPiece = max(largestPiece, plaintext.count)
                read.update(data: plaintext)
            }
        }
        try reader.finish()
        try input.close()
        #expect(reader.plaintextBytes == pieceCount * pieceSize)
        #expect(read.finalize() == written.finalize())
        #expect(largestPiece <= 1 << 20)
        #expect(reader.peakBufferedBytes <= 2 * (chunkSize + ArchiveFormat.frameOverhead) + pieceSize)
    }
}

@Suite("Backup keyring")
struct BackupKeyringTests {
    @Test("a rotation retires the key before; each manifest is read with the key it names")
    func rotation() throws {
        let first = BackupKey.generate()
        let second = BackupKey.generate()
        let manifest = try archive(randomBytes(10_000, seed: 7), key: first, chunkSize: 4_096).manifest
        let signed = try manifest.signed(with: first)

        let keyring = BackupKeyring(current: first).rotated(to: second, at: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(keyring.current.id == second.id)
        #expect(keyring.retired.map(\.key.id) == [first.id])
        #expect(keyring.key(id: first.id)?.id == first.id)
        #expect(keyring.key(id: "0000000000000000") == nil)
        #expect(try BackupManifest.verified(signed, keyring: keyring) == manifest)

        // A keyring without the key reports the wrong key, not tampering.
        expectBackupError(.backupWrongKey, mentioning: [first.id]) {
            _ = try BackupManifest.verified(signed, keyring: BackupKeyring(current: second))
        }
        // A damaged manifest is still tampering, whichever key it names.
        let damaged = Data(String(decoding: signed, as: UTF8.self).replacingOccurrences(of: "\"shop\"", with: "\"shoq\"").utf8)
        expectBackupError(.backupIntegrityFailed) { _ = try BackupManifest.verified(damaged, keyring: keyring) }
    }

    @Test("the retired keys' stored form round-trips, and a key equal to the current one folds away")
    func storedForm() throws {
        let first = BackupKey.generate()
        let second = BackupKey.generate()
        let keyring = BackupKeyring(current: first).rotated(to: second, at: Date(timeIntervalSince1970: 1_800_000_000))
        let stored = keyring.encodedRetired()
        #expect(!stored.contains(second.id), "only retired keys are stored")
        let back = try BackupKeyring.decodeRetired(stored)
        #expect(back.map(\.key.id) == [first.id])
        #expect(back.first?.retiredAt == Date(timeIntervalSince1970: 1_800_000_000))
        // A crash between storing the retired list and replacing the key file: the old key is both.
        #expect(BackupKeyring(current: first, retired: back).retired.isEmpty)
        // A stored key whose bytes do not match its fingerprint is refused.
        let forged = #"[{"id":"\#(first.id)","key":"\#(second.base64)","retiredAt":"2027-01-15T08:00:00Z"}]"#
        expectBackupError(.backupKeyMissing, mentioning: ["fingerprint"]) { _ = try BackupKeyring.decodeRetired(forged) }
        expectBackupError(.backupKeyMissing) { _ = try BackupKeyring.decodeRetired("not json") }
    }

    @Test("a key file is replaced whole, private, and never through a symbolic link")
    func replaceFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("branch-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/backup.key"
        let first = BackupKey.generate()
        let second = BackupKey.generate()
        try KeyFile.replace(first.base64, at: path, label: "backup key file")
        #expect(try BackupKey.load(file: path, environment: [:]).id == first.id)
        try KeyFile.replace(second.base64, at: path, label: "backup key file")
        #expect(try BackupKey.load(file: path, environment: [:]).id == second.id)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["backup.key"], "no temporary file left")

        let link = directory + "/linked.key"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        do {
            try KeyFile.replace(first.base64, at: link, label: "backup key file")
            Issue.record("a symbolic link was replaced")
        } catch {
            #expect(error.message.contains("symbolic link"))
        }
        #expect(try BackupKey.load(file: path, environment: [:]).id == second.id, "the link's target is untouched")
    }
}
