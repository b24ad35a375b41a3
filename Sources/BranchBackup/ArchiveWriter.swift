import BranchCore
import Crypto
import Foundation

/// Turns a plaintext stream (a Btrfs send stream) into the stored frames of one backup:
/// zstd-compressed, cut into chunks of `chunkSize` bytes, each sealed with AES-256-GCM
/// (see ArchiveFormat.swift for the layout).
///
/// Feed plaintext in pieces of any size with `write`, store what it returns in order, then store
/// what `finish` returns and record `summary` in the manifest. Memory stays around one chunk plus
/// one piece, whatever the size of the stream. One task owns a writer; it is not Sendable.
package final class ArchiveWriter {
    /// The default chunk size: 4 MiB of compressed stream per frame.
    package static let defaultChunkSize = ArchiveFormat.defaultChunkSize

    /// The backup the archive belongs to; bound into every chunk.
    package let backupID: String
    package let chunkSize: Int
    private let keyID: String
    private let chunkKey: SymmetricKey
    private let nonceSalt: [UInt8]
    private let compressor: ZstdCompressor

    /// Compressed bytes not yet sealed: always less than one chunk between calls. The chunk that
    /// fills up is sealed only once a byte follows it, because only then is it known not to be
    /// the final chunk (whose flag is in its AAD).
    private var pending: [UInt8] = []
    private var chunks: [ArchiveChunk] = []
    private var rawBytes = 0
    private var compressedBytes = 0
    private var storedBytes = 0
    private var finished = false

    /// Most bytes held between or during calls (compressed backlog), for tests of the memory bound.
    private(set) var peakBufferedBytes = 0

    /// - Parameters:
    ///   - backupID: unique id of the backup; the reader must be given the same.
    ///   - chunkSize: compressed bytes per chunk, 1 byte to 16 MiB.
    ///   - compressionLevel: zstd level, 1…19 (or negative for faster, larger output).
    package convenience init(backupID: String, key: BackupKey, chunkSize: Int = defaultChunkSize, compressionLevel: Int = 3) throws(BackupError) {
        var salt = [UInt8](repeating: 0, count: ArchiveFormat.nonceSaltBytes)
        var random = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = random.next() }
        try self.init(backupID: backupID, key: key, chunkSize: chunkSize, compressionLevel: compressionLevel, nonceSalt: salt)
    }

    /// Fixed nonce salt, so tests can produce the same archive twice.
    init(backupID: String, key: BackupKey, chunkSize: Int, compressionLevel: Int, nonceSalt: [UInt8]) throws(BackupError) {
        guard !backupID.isEmpty else { throw BackupError(.backupFailed, "A backup archive needs a backup id.") }
        guard (1...ArchiveFormat.maxChunkSize).contains(chunkSize) else {
            throw BackupError(.backupFailed, "Chunk size \(chunkSize) is out of range (1…\(ArchiveFormat.maxChunkSize) bytes).")
        }
        precondition(nonceSalt.count == ArchiveFormat.nonceSaltBytes)
        guard let level = Int32(exactly: compressionLevel) else {
            throw BackupError(.backupFailed, "zstd compression level \(compressionLevel) is not supported.")
        }
        self.backupID = backupID
        self.chunkSize = chunkSize
        self.keyID = key.id
        self.chunkKey = key.chunkKey(backupID: backupID)
        self.nonceSalt = nonceSalt
        self.compressor = try ZstdCompressor(level: level)
    }

    /// Takes the next piece of plaintext; returns the frames completed by it (often none),
    /// to be stored after the ones returned before.
    package func write(_ bytes: some Collection<UInt8>) throws(BackupError) -> [UInt8] {
        guard !finished else { throw BackupError(.backupFailed, "Backup \(backupID): write after the archive was finished.") }
        rawBytes += bytes.count
        let compressed = try compressor.compress(bytes)
        return try take(compressed, final: false)
    }

    /// Ends the stream; returns the last frames. `summary` is available afterwards.
    package func finish() throws(BackupError) -> [UInt8] {
        guard !finished else { throw BackupError(.backupFailed, "Backup \(backupID): the archive was already finished.") }
        let tail = try compressor.finish()
        finished = true
        return try take(tail, final: true)
    }

    /// What the manifest must record; nil until `finish` has returned.
    package var summary: ArchiveSummary? {
        guard finished else { return nil }
        return ArchiveSummary(
            keyID: keyID, nonceSalt: ArchiveFormat.hex(nonceSalt), chunkSize: chunkSize, chunks: chunks,
            rawBytes: rawBytes, compressedBytes: compressedBytes, storedBytes: storedBytes)
    }

    /// Appends compressed bytes and seals every chunk known to be complete (and, on `final`,
    /// the rest as the final chunk).
    private func take(_ compressed: [UInt8], final: Bool) throws(BackupError) -> [UInt8] {
        compressedBytes += compressed.count
        pending += compressed
        peakBufferedBytes = max(peakBufferedBytes, pending.count)
        var frames: [UInt8] = []
        var start = 0
        while pending.count - start > chunkSize {
            frames += try seal(pending[start..<start + chunkSize], isFinal: false)
            start += chunkSize
        }
        if final {
            // A zstd frame always ends with at least a block header, so the final chunk is never empty.
            frames += try seal(pending[start...], isFinal: true)
            start = pending.count
        }
        pending.removeSubrange(0..<start)
        return frames
    }

    private func seal(_ chunk: ArraySlice<UInt8>, isFinal: Bool) throws(BackupError) -> [UInt8] {
        let index = chunks.count
        let box: AES.GCM.SealedBox
        do {
            let nonce = try AES.GCM.Nonce(data: ArchiveFormat.nonce(salt: nonceSalt, index: index))
            box = try AES.GCM.seal(
                chunk, using: chunkKey, nonce: nonce,
                authenticating: ArchiveFormat.additionalData(backupID: backupID, index: index, isFinal: isFinal))
        } catch {
            throw BackupError(.backupFailed, "Backup \(backupID): could not encrypt chunk \(index) (\(error)).")
        }
        // `combined` is nonce ‖ ciphertext ‖ tag; it is nil only for non-standard nonce sizes.
        let sealed = box.combined!
        let frame = ArchiveFormat.bigEndian(UInt32(sealed.count)) + sealed
        chunks.append(
            ArchiveChunk(
                index: index, compressedBytes: chunk.count, frameBytes: frame.count,
                sha256: ArchiveFormat.hex(SHA256.hash(data: frame))))
        storedBytes += frame.count
        return frame
    }
}
