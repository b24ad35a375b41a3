import BranchCore
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

// MARK: - Upload and read

/// A multipart upload that starts only once a full part is buffered: objects smaller than one
/// part are a single PutObject, so tiny and empty uploads work everywhere.
actor S3Upload: BackupUpload {
    private enum State {
        case buffering
        case multipart(uploadID: String)
        case completed
        case aborted
    }

    /// S3 allows at most this many parts per upload.
    static let maxParts = 10_000

    private let client: S3Client
    private let key: String
    private let partSize: Int
    private var state = State.buffering
    private var buffer = ByteBuffer()
    private var etags: [String] = []
    private var uploaded: UInt64 = 0
    private var busy = false

    init(client: S3Client, key: String, partSize: Int) {
        self.client = client
        self.key = key
        self.partSize = partSize
    }

    deinit {
        // Dropped without complete() or abort(): an open multipart upload keeps its parts (and
        // costs storage) until aborted, so abort it in the background.
        if case .multipart(let uploadID) = state {
            Task { [client, key] in try? await client.abortMultipartUpload(key, uploadID: uploadID) }
        }
    }

    func write(_ bytes: [UInt8]) async throws {
        try begin("write to")
        defer { busy = false }
        var remaining = bytes[...]
        while !remaining.isEmpty {
            // Flush only when more bytes arrive for a full buffer, so an object of exactly one
            // part is still a single PutObject and the last part is never empty.
            if buffer.readableBytes == partSize { try await sendPart() }
            if buffer.capacity < partSize && buffer.readableBytes + remaining.count > 1 << 20 {
                buffer.reserveCapacity(partSize)
            }
            let count = min(partSize - buffer.readableBytes, remaining.count)
            buffer.writeBytes(remaining.prefix(count))
            remaining = remaining.dropFirst(count)
        }
    }

    func complete() async throws -> UInt64 {
        try begin("complete")
        defer { busy = false }
        do {
            switch state {
            case .buffering:
                try await client.putObject(key, body: buffer)
                uploaded = UInt64(buffer.readableBytes)
            case .multipart(let uploadID):
                if buffer.readableBytes > 0 { try await sendPart() }
                try await client.completeMultipartUpload(key, uploadID: uploadID, parts: etags)
            case .completed, .aborted:
                break
            }
        } catch {
            await abort()
            throw error
        }
        state = .completed
        buffer = ByteBuffer()
        return uploaded
    }

    func abort() async {
        let current = state
        state = .aborted
        buffer = ByteBuffer()
        guard case .multipart(let uploadID) = current else { return }
        // In its own task so a cancelled caller still cleans up (a cancelled task's requests fail at once).
        let (client, key) = (client, key)
        await Task { try? await client.abortMultipartUpload(key, uploadID: uploadID) }.value
    }

    private func begin(_ operation: String) throws(BackupError) {
        guard !busy else { throw BackupError(.backupFailed, "Overlapping calls on the upload of \(client.location(key)); use it from one task.") }
        switch state {
        case .buffering, .multipart: busy = true
        case .completed, .aborted:
            throw BackupError(.backupFailed, "Cannot \(operation) the upload of \(client.location(key)): it was already completed or aborted.")
        }
    }

    /// Uploads the buffer as the next part (starting the multipart upload if needed) and empties it.
    private func sendPart() async throws {
        do {
            let uploadID: String
            switch state {
            case .multipart(let id): uploadID = id
            default:
                uploadID = try await client.createMultipartUpload(key)
                state = .multipart(uploadID: uploadID)
            }
            guard etags.count < Self.maxParts else {
                throw BackupError(
                    .backupTargetFailed, "Upload of \(client.location(key)) exceeds S3's \(Self.maxParts) parts of \(partSize) bytes.")
            }
            etags.append(try await client.uploadPart(key, uploadID: uploadID, number: etags.count + 1, body: buffer))
            uploaded += UInt64(buffer.readableBytes)
            buffer.clear()
        } catch {
            await abort()
            throw error
        }
    }
}

/// Yields an object's bytes in ranged GETs of `pieceSize`, one at a time as they are asked for.
actor S3RangeReader {
    private let client: S3Client
    private let key: String
    private let size: UInt64
    private let etag: String?
    private let pieceSize: UInt64
    private var offset: UInt64 = 0

    init(client: S3Client, key: String, size: UInt64, etag: String?, pieceSize: Int) {
        self.client = client
        self.key = key
        self.size = size
        self.etag = etag
        self.pieceSize = UInt64(pieceSize)
    }

    func next() async throws -> [UInt8]? {
        guard offset < size else { return nil }
        let last = min(offset + pieceSize, size) - 1
        let expected = Int(last - offset + 1)
        let body = try await client.getRange(key, offset...last, etag: etag, limit: expected)
        guard body.readableBytes == expected else {
            throw BackupError(
                .backupTargetFailed, "S3 GetObject of \(client.location(key)) bytes \(offset)-\(last) returned \(body.readableBytes) bytes.")
        }
        offset = last + 1
        return Array(body.readableBytesView)
    }
}
