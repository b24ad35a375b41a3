// The data object of one backup is a sequence of frames:
//
//     frame      = length (UInt32, big-endian) ‖ sealed box
//     sealed box = nonce (12 bytes) ‖ AES-256-GCM ciphertext ‖ tag (16 bytes)
//     nonce      = nonce salt (4 random bytes per backup) ‖ chunk index (UInt64, big-endian)
//     AAD        = backup id (UTF-8) ‖ chunk index (UInt64, big-endian) ‖ final flag (1 on the last chunk, else 0)
//
// The plaintexts of the chunks, concatenated, are one zstd frame; every chunk but the last holds
// exactly `chunkSize` bytes of it. The key is the chunk subkey of the backup key, derived per backup
// (see `BackupKey.chunkKey(backupID:)`). The index and the final flag in the AAD mean a chunk cannot
// be moved, reordered or dropped, and the archive cannot be cut short, without `AES.GCM.open` failing;
// the SHA-256 per frame in the signed manifest catches the same earlier, and names the chunk.

/// One chunk of an archive, as the manifest records it.
package struct ArchiveChunk: Codable, Sendable, Hashable {
    /// Position of the chunk in the archive, from 0.
    package var index: Int
    /// Bytes of the compressed stream the chunk carries (its plaintext).
    package var compressedBytes: Int
    /// Bytes of the stored frame: length prefix, nonce, ciphertext and tag.
    package var frameBytes: Int
    /// SHA-256 of the stored frame, lowercase hex.
    package var sha256: String
}

/// What an `ArchiveWriter` wrote: everything the manifest must record for a reader to verify the archive.
package struct ArchiveSummary: Sendable, Hashable {
    /// Fingerprint of the key the archive is encrypted with (`BackupKey.id`).
    package var keyID: String
    /// The 4 random bytes that start every nonce of this archive, lowercase hex.
    package var nonceSalt: String
    /// Compressed bytes per chunk; the last chunk may be shorter.
    package var chunkSize: Int
    package var chunks: [ArchiveChunk]
    /// Bytes given to the writer.
    package var rawBytes: Int
    /// Bytes of the zstd stream.
    package var compressedBytes: Int
    /// Bytes of the archive as stored: the sum of the frames.
    package var storedBytes: Int
}

/// Constants and small helpers of the archive format, shared by writer and reader.
enum ArchiveFormat {
    static let defaultChunkSize = 4 << 20
    /// Chunks are held in memory whole (AES-GCM authenticates a whole message), a few at a time;
    /// this bound keeps a reader under its memory budget whatever a manifest says.
    static let maxChunkSize = 16 << 20
    static let lengthBytes = 4
    static let nonceSaltBytes = 4
    static let nonceBytes = 12
    static let tagBytes = 16
    /// Bytes a frame adds to the chunk it carries.
    static let frameOverhead = lengthBytes + nonceBytes + tagBytes

    static func nonce(salt: [UInt8], index: Int) -> [UInt8] {
        salt + bigEndian(UInt64(index))
    }

    static func additionalData(backupID: String, index: Int, isFinal: Bool) -> [UInt8] {
        Array(backupID.utf8) + bigEndian(UInt64(index)) + [isFinal ? 1 : 0]
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes lowercase or uppercase hex; nil when malformed.
    static func bytes(hex: String) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let high = nibble(chars[i]), let low = nibble(chars[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }
}
