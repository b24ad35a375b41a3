import BranchCore
import AsyncHTTPClient
package import Foundation
package import Logging
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// Backups in an S3 bucket (AWS, or anything that speaks the S3 API: MinIO, Ceph, R2, moto).
///
/// Small objects are PutObject/GetObject; uploads are multipart (one part in flight at a time,
/// so an upload holds at most one part in memory); reads are ranged GETs of `readPieceSize`.
/// Every request is signed with SigV4 over the payload's SHA-256, and transient failures
/// (dropped connections, 5xx, 429) are retried with backoff.
package struct S3Target: BackupTarget {
    /// Where and how to reach the bucket.
    package struct Configuration: Sendable {
        package let bucket: String
        /// Prepended to every key (`<prefix>/<key>`); empty for the bucket's root.
        package let prefix: String
        package let region: String
        /// Scheme, host, optional port and base path of the S3 API.
        package let endpoint: URL
        /// `https://host/bucket/key` instead of `https://bucket.host/key` (MinIO, moto, Ceph).
        package let pathStyle: Bool
        package let credentials: AWSCredentials
        /// Multipart part size: 5 MiB (S3's minimum) to 5 GiB.
        package let partSize: Int
        /// Size of the ranged GETs `read` makes (and of the pieces it yields).
        package let readPieceSize: Int
        /// How often a transiently failed request is retried.
        package let retries: Int
        /// How long a request without data (list, head, delete, small objects) may take,
        /// connecting included; requests carrying parts or pieces get 10 minutes.
        package let requestTimeout: Duration

        /// - Parameters:
        ///   - endpoint: default `https://s3.<region>.amazonaws.com`.
        /// - Throws: `BackupError(.backupTargetFailed)` for an invalid bucket, prefix, region or endpoint.
        package init(
            bucket: String,
            prefix: String = "",
            region: String = "us-east-1",
            endpoint: String? = nil,
            pathStyle: Bool = false,
            credentials: AWSCredentials,
            partSize: Int = BackupTargetDefaults.partSize,
            readPieceSize: Int = BackupTargetDefaults.readPieceSize,
            retries: Int = 3,
            requestTimeout: Duration = .seconds(60)
        ) throws(BackupError) {
            let dnsCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789.-")
            guard !bucket.isEmpty, bucket.allSatisfy({ dnsCharacters.contains($0) }) else {
                throw BackupError(.backupTargetFailed, "Invalid S3 bucket name '\(bucket)': use lower-case letters, digits, '.' and '-'.")
            }
            guard !region.isEmpty, region.allSatisfy({ dnsCharacters.contains($0) }) else {
                throw BackupError(.backupTargetFailed, "Invalid S3 region '\(region)' for bucket \(bucket).")
            }
            let endpointString = endpoint ?? "https://s3.\(region).amazonaws.com"
            guard let url = URL(string: endpointString), url.scheme == "http" || url.scheme == "https", url.host != nil,
                url.user == nil, url.query == nil
            else {
                throw BackupError(.backupTargetFailed, "Invalid S3 endpoint for bucket \(bucket): expected http(s)://host[:port].")
            }
            let trimmed = prefix.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
            if !trimmed.isEmpty { try ObjectKeys.validate(trimmed, in: "s3://\(bucket)") }
            guard (5 << 20)...(5 << 30) ~= partSize else {
                throw BackupError(.backupTargetFailed, "S3 part size \(partSize) is outside 5 MiB…5 GiB.")
            }
            self.bucket = bucket
            self.prefix = trimmed
            self.region = region
            self.endpoint = url
            self.pathStyle = pathStyle
            self.credentials = credentials
            self.partSize = partSize
            self.readPieceSize = max(readPieceSize, 1)
            self.retries = max(retries, 0)
            self.requestTimeout = requestTimeout
        }
    }

    package let configuration: Configuration
    let client: S3Client

    package init(configuration: Configuration, logger: Logger = Logger(label: "branch.backup.s3")) {
        self.configuration = configuration
        self.client = S3Client(configuration: configuration, logger: logger)
    }

    package var description: String {
        let location = "s3://\(configuration.bucket)\(configuration.prefix.isEmpty ? "" : "/\(configuration.prefix)")"
        let isDefault = configuration.endpoint.absoluteString == "https://s3.\(configuration.region).amazonaws.com"
        return isDefault ? location : "\(location) at \(configuration.endpoint.absoluteString)"
    }

    package func put(_ key: String, data: Data) async throws {
        try await client.putObject(try objectKey(key), body: ByteBuffer(bytes: data))
    }

    package func openUpload(_ key: String) async throws -> any BackupUpload {
        S3Upload(client: client, key: try objectKey(key), partSize: configuration.partSize)
    }

    package func get(_ key: String) async throws -> Data {
        let response = try await client.send(
            S3Request(.GET, "GetObject", key: try objectKey(key), responseLimit: BackupTargetDefaults.smallObjectLimit))
        return Data(response.body.readableBytesView)
    }

    package func read(_ key: String) async throws -> AsyncThrowingStream<[UInt8], any Error> {
        let (size, etag) = try await head(key)
        let reader = S3RangeReader(client: client, key: try objectKey(key), size: size, etag: etag, pieceSize: configuration.readPieceSize)
        // Pull-based: each piece is fetched when the consumer asks for it, so one piece is held at a time.
        return AsyncThrowingStream(unfolding: { try await reader.next() })
    }

    package func list(prefix: String) async throws -> [String] {
        try ObjectKeys.validatePrefix(prefix, in: description)
        let base = configuration.prefix.isEmpty ? "" : configuration.prefix + "/"
        return try await client.listObjects(prefix: base + prefix).compactMap { key in
            key.hasPrefix(base) ? String(key.dropFirst(base.count)) : nil
        }
    }

    package func delete(_ key: String) async throws {
        // S3 answers 204 whether or not the object existed; some implementations say 404.
        _ = try await client.send(S3Request(.DELETE, "DeleteObject", key: try objectKey(key), accept: [404]))
    }

    package func exists(_ key: String) async throws -> Bool {
        let response = try await client.send(S3Request(.HEAD, "HeadObject", key: try objectKey(key), accept: [404]))
        return response.status == .ok
    }

    /// Size and ETag of an object (a multipart object's ETag ends in `-<parts>`).
    func head(_ key: String) async throws -> (size: UInt64, etag: String?) {
        let objectKey = try objectKey(key)
        let response = try await client.send(S3Request(.HEAD, "HeadObject", key: objectKey))
        guard let size = response.headers.first(name: "content-length").flatMap(UInt64.init) else {
            throw BackupError(.backupTargetFailed, "S3 HeadObject of \(client.location(objectKey)) returned no Content-Length.")
        }
        return (size, response.headers.first(name: "etag"))
    }

    /// Keys (relative, like `list`) of multipart uploads started under `prefix` and neither
    /// completed nor aborted.
    func pendingUploads(prefix: String) async throws -> [String] {
        let base = configuration.prefix.isEmpty ? "" : configuration.prefix + "/"
        return try await client.listMultipartUploads(prefix: base + prefix).map { String($0.dropFirst(base.count)) }
    }

    /// The object key in the bucket: the target's prefix plus the validated key.
    func objectKey(_ key: String) throws(BackupError) -> String {
        try ObjectKeys.validate(key, in: description)
        return configuration.prefix.isEmpty ? key : "\(configuration.prefix)/\(key)"
    }
}
