import BranchCore
import Crypto
import Foundation

/// Turns the stored frames of one backup back into its plaintext stream, verifying everything
/// against the backup's manifest: each frame's SHA-256 before decrypting it, then its AES-GCM tag
/// over its position and final flag, then the zstd stream, then the totals.
///
/// Use it as a pump, so memory stays bounded even where a few compressed bytes expand to
/// gigabytes (runs of zeros):
///
///     let reader = try ArchiveReader(manifest: manifest, key: key)
///     for try await piece in stored {
///         try reader.write(piece)
///         while let plaintext = try reader.read() { try await sink(plaintext) }
///     }
///     try reader.finish()
///
/// Any mismatch throws `BackupError` `.integrity` naming the chunk; plaintext already handed out
/// must then be discarded (a restore fails as a whole). One task owns a reader; it is not Sendable.
package final class ArchiveReader {
    package let backupID: String
    private let chunks: [ArchiveChunk]
    private let chunkSize: Int
    private let nonceSalt: [UInt8]
    private let chunkKey: SymmetricKey
    private let expectedRawBytes: Int
    private let outputPieceSize: Int
    private let decompressor: ZstdDecompressor

    /// Stored bytes received and not yet taken as a frame: `inbox[inboxStart...]`.
    private var inbox: [UInt8] = []
    private var inboxStart = 0
    /// Index of the next frame expected.
    private var nextChunk = 0
    /// The decrypted chunk being decompressed, and how much of it zstd has taken.
    private var current = Data()
    private var currentIndex = -1
    private var currentOffset = 0
    /// Plaintext handed out so far.
    package private(set) var plaintextBytes = 0

    /// Most bytes held at once (stored backlog plus decrypted chunk), for tests of the memory bound.
    private(set) var peakBufferedBytes = 0

    /// - Parameters:
    ///   - manifest: the backup's manifest, as returned by `BackupManifest.verified(_:key:)`.
    ///     (The frames are authenticated by the key alone as well, so an unverified manifest cannot
    ///     smuggle data in, but only a verified one guarantees the backup is complete.)
    ///   - outputPieceSize: most plaintext bytes `read()` returns at once.
    /// - Throws: `.wrongKey` if the manifest names another key; `.integrity` if it is malformed;
    ///   `.failed` for a format this version cannot read.
    package init(manifest: BackupManifest, key: BackupKey, outputPieceSize: Int = 1 << 20) throws(BackupError) {
        let id = manifest.id
        guard manifest.keyID == key.id else {
            throw BackupError(.backupWrongKey, "Backup \(id) was made with key \(manifest.keyID); the configured key is \(key.id).")
        }
        try manifest.checkSupported()
        guard let salt = ArchiveFormat.bytes(hex: manifest.nonceSalt), salt.count == ArchiveFormat.nonceSaltBytes else {
            throw BackupError(.backupIntegrityFailed, "Backup \(id): the manifest's nonce salt is malformed.")
        }
        guard (1...ArchiveFormat.maxChunkSize).contains(manifest.chunkSize) else {
            throw BackupError(.backupIntegrityFailed, "Backup \(id): the manifest's chunk size \(manifest.chunkSize) is out of range.")
        }
        guard !manifest.chunks.isEmpty else {
            throw BackupError(.backupIntegrityFailed, "Backup \(id): the manifest lists no chunks.")
        }
        for (position, chunk) in manifest.chunks.enumerated() {
            let isLast = position == manifest.chunks.count - 1
            guard chunk.index == position,
                isLast ? (1...manifest.chunkSize).contains(chunk.compressedBytes) : chunk.compressedBytes == manifest.chunkSize,
                chunk.frameBytes == chunk.compressedBytes + ArchiveFormat.frameOverhead,
                ArchiveFormat.bytes(hex: chunk.sha256)?.count == SHA256.byteCount
            else {
                throw BackupError(.backupIntegrityFailed, "Backup \(id): the manifest's entry for chunk \(position) is inconsistent.")
            }
        }
        guard outputPieceSize > 0 else { throw BackupError(.backupFailed, "outputPieceSize must be positive.") }
        backupID = id
        chunks = manifest.chunks
        chunkSize = manifest.chunkSize
        nonceSalt = salt
        chunkKey = key.chunkKey(backupID: id)
        expectedRawBytes = manifest.rawBytes
        self.outputPieceSize = outputPieceSize
        decompressor = try ZstdDecompressor()
    }

    /// Takes the next piece of the stored archive, of any size. Call `read()` until it returns nil
    /// before writing more, or the backlog grows.
    package func write(_ bytes: some Collection<UInt8>) {
        if inboxStart > 0 {
            inbox.removeSubrange(0..<inboxStart)
            inboxStart = 0
        }
        inbox += bytes
        notePeak()
    }

    /// Returns the next piece of plaintext (at most `outputPieceSize` bytes), or nil when the
    /// reader needs more input, or has handed out everything.
    package func read() throws(BackupError) -> [UInt8]? {
        while true {
            if currentOffset < current.count || decompressor.mayHaveOutput {
                if let output = try decompressCurrent() { return output }
                continue
            }
            guard let frame = try takeFrame() else { return nil }
            current = try open(frame.sealed, index: frame.index)
            currentIndex = frame.index
            currentOffset = 0
            notePeak()
        }
    }

    /// Checks that the archive was complete: every chunk present, nothing after the last, the
    /// compressed stream ended, and the plaintext as long as the manifest says.
    /// Throws `.failed` if plaintext is still waiting to be `read()`.
    package func finish() throws(BackupError) {
        if try read() != nil {
            throw BackupError(.backupFailed, "Backup \(backupID): finish() was called before all plaintext was read.")
        }
        let left = inbox.count - inboxStart
        if nextChunk < chunks.count {
            if left > 0 {
                throw integrity("chunk \(nextChunk) is cut short: \(left) of \(chunks[nextChunk].frameBytes) bytes")
            }
            throw integrity("the archive ends after \(nextChunk) of \(chunks.count) chunks; chunk \(nextChunk) is missing")
        }
        guard left == 0 else { throw integrity("\(left) unexpected bytes follow the last chunk (\(chunks.count - 1))") }
        guard decompressor.frameEnded else { throw integrity("the compressed stream does not end in the last chunk") }
        guard plaintextBytes == expectedRawBytes else {
            throw integrity("the archive yields \(plaintextBytes) bytes; the manifest says \(expectedRawBytes)")
        }
    }

    /// Decompresses from the current chunk; nil when it yielded nothing and needs the next chunk.
    private func decompressCurrent() throws(BackupError) -> [UInt8]? {
        if decompressor.frameEnded {
            throw integrity("chunk \(currentIndex) has \(current.count - currentOffset) bytes after the end of the compressed stream")
        }
        let offset = currentOffset
        let result = current.withUnsafeBytes { buffer in
            Result { () throws(BackupError) in
                try decompressor.decompress(UnsafeRawBufferPointer(rebasing: buffer[offset...]), maxOutput: outputPieceSize)
            }
        }
        let output: [UInt8], consumed: Int
        switch result {
        case .success(let step): (output, consumed) = step
        case .failure(let error): throw BackupError(.backupIntegrityFailed, "Backup \(backupID): chunk \(currentIndex): \(error.message)")
        }
        currentOffset += consumed
        if currentOffset == current.count && !decompressor.mayHaveOutput {
            current = Data()  // let the chunk go before the next one is decrypted
            currentOffset = 0
        }
        plaintextBytes += output.count
        guard plaintextBytes <= expectedRawBytes else {
            throw integrity("chunk \(currentIndex) yields more plaintext than the manifest's \(expectedRawBytes) bytes")
        }
        if !output.isEmpty { return output }
        // zstd always takes input or produces output when it has both; guard against looping forever.
        if consumed == 0 && currentOffset < current.count && !decompressor.frameEnded {
            throw BackupError(.backupFailed, "Backup \(backupID): zstd made no progress in chunk \(currentIndex).")
        }
        return nil
    }

    /// Takes the next frame off the inbox once it has arrived whole. Its length is checked against
    /// the manifest as soon as the prefix is in, so a corrupt length fails at once instead of
    /// having the reader wait for (and buffer) gigabytes; its SHA-256 is checked before decrypting.
    private func takeFrame() throws(BackupError) -> (index: Int, sealed: ArraySlice<UInt8>)? {
        let available = inbox.count - inboxStart
        guard available > 0 else { return nil }
        let index = nextChunk
        guard index < chunks.count else {
            throw integrity("unexpected data follows the last chunk (\(chunks.count - 1))")
        }
        guard available >= ArchiveFormat.lengthBytes else { return nil }
        let length = inbox[inboxStart..<inboxStart + ArchiveFormat.lengthBytes].reduce(0) { $0 << 8 | Int($1) }
        let expected = chunks[index]
        guard ArchiveFormat.lengthBytes + length == expected.frameBytes else {
            throw integrity("chunk \(index) is \(ArchiveFormat.lengthBytes + length) bytes long; the manifest says \(expected.frameBytes)")
        }
        guard available >= expected.frameBytes else { return nil }
        let frame = inbox[inboxStart..<inboxStart + expected.frameBytes]
        guard ArchiveFormat.hex(SHA256.hash(data: frame)) == expected.sha256 else {
            throw integrity("chunk \(index) does not match its SHA-256 in the manifest")
        }
        inboxStart += expected.frameBytes
        nextChunk += 1
        return (index, frame.dropFirst(ArchiveFormat.lengthBytes))
    }

    /// Authenticates and decrypts a sealed box as chunk `index`.
    private func open(_ sealed: ArraySlice<UInt8>, index: Int) throws(BackupError) -> Data {
        let nonce = ArchiveFormat.nonce(salt: nonceSalt, index: index)
        guard sealed.prefix(ArchiveFormat.nonceBytes).elementsEqual(nonce) else {
            throw integrity("chunk \(index) carries the nonce of another position or backup")
        }
        let isFinal = index == chunks.count - 1
        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            plaintext = try AES.GCM.open(
                box, using: chunkKey,
                authenticating: ArchiveFormat.additionalData(backupID: backupID, index: index, isFinal: isFinal))
        } catch {
            throw integrity(
                "chunk \(index) failed authentication: it is not chunk \(index)\(isFinal ? " (the last)" : "") of this backup, or was modified")
        }
        guard plaintext.count == chunks[index].compressedBytes else {
            throw integrity("chunk \(index) holds \(plaintext.count) compressed bytes; the manifest says \(chunks[index].compressedBytes)")
        }
        return plaintext
    }

    private func integrity(_ what: String) -> BackupError {
        BackupError(.backupIntegrityFailed, "Backup \(backupID): \(what).")
    }

    private func notePeak() {
        peakBufferedBytes = max(peakBufferedBytes, inbox.count - inboxStart + current.count)
    }
}
