import BranchCore
import AsyncHTTPClient
public import Foundation
public import Logging
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
public struct S3Target: BackupTarget {
    /// Where and how to reach the bucket.
    public struct Configuration: Sendable {
        public let bucket: String
        /// Prepended to every key (`<prefix>/<key>`); empty for the bucket's root.
        public let prefix: String
        public let region: String
        /// Scheme, host, optional port and base path of the S3 API.
        public let endpoint: URL
        /// `https://host/bucket/key` instead of `https://bucket.host/key` (MinIO, moto, Ceph).
        public let pathStyle: Bool
        public let credentials: AWSCredentials
        /// Multipart part size: 5 MiB (S3's minimum) to 5 GiB.
        public let partSize: Int
        /// Size of the ranged GETs `read` makes (and of the pieces it yields).
        public let readPieceSize: Int
        /// How often a transiently failed request is retried.
        public let retries: Int
        /// How long a request without data (list, head, delete, small objects) may take,
        /// connecting included; requests carrying parts or pieces get 10 minutes.
        public let requestTimeout: Duration

        /// - Parameters:
        ///   - endpoint: default `https://s3.<region>.amazonaws.com`.
        /// - Throws: `BackupError(.backupTargetFailed)` for an invalid bucket, prefix, region or endpoint.
        public init(
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

    public let configuration: Configuration
    let client: S3Client

    public init(configuration: Configuration, logger: Logger = Logger(label: "branch.backup.s3")) {
        self.configuration = configuration
        self.client = S3Client(configuration: configuration, logger: logger)
    }

    public var description: String {
        let location = "s3://\(configuration.bucket)\(configuration.prefix.isEmpty ? "" : "/\(configuration.prefix)")"
        let isDefault = configuration.endpoint.absoluteString == "https://s3.\(configuration.region).amazonaws.com"
        return isDefault ? location : "\(location) at \(configuration.endpoint.absoluteString)"
    }

    public func put(_ key: String, data: Data) async throws {
        try await client.putObject(try objectKey(key), body: ByteBuffer(bytes: data))
    }

    public func openUpload(_ key: String) async throws -> any BackupUpload {
        S3Upload(client: client, key: try objectKey(key), partSize: configuration.partSize)
    }

    public func get(_ key: String) async throws -> Data {
        let response = try await client.send(
            S3Request(.GET, "GetObject", key: try objectKey(key), responseLimit: BackupTargetDefaults.smallObjectLimit))
        return Data(response.body.readableBytesView)
    }

    public func read(_ key: String) async throws -> AsyncThrowingStream<[UInt8], any Error> {
        let (size, etag) = try await head(key)
        let reader = S3RangeReader(client: client, key: try objectKey(key), size: size, etag: etag, pieceSize: configuration.readPieceSize)
        // Pull-based: each piece is fetched when the consumer asks for it, so one piece is held at a time.
        return AsyncThrowingStream(unfolding: { try await reader.next() })
    }

    public func list(prefix: String) async throws -> [String] {
        try ObjectKeys.validatePrefix(prefix, in: description)
        let base = configuration.prefix.isEmpty ? "" : configuration.prefix + "/"
        return try await client.listObjects(prefix: base + prefix).compactMap { key in
            key.hasPrefix(base) ? String(key.dropFirst(base.count)) : nil
        }
    }

    public func delete(_ key: String) async throws {
        // S3 answers 204 whether or not the object existed; some implementations say 404.
        _ = try await client.send(S3Request(.DELETE, "DeleteObject", key: try objectKey(key), accept: [404]))
    }

    public func exists(_ key: String) async throws -> Bool {
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

// MARK: - Requests

/// One S3 API call; `key` is the full object key, nil for bucket-level calls.
struct S3Request: Sendable {
    var method: HTTPMethod
    /// The S3 operation name, for messages.
    var operation: String
    var key: String?
    var query: [(name: String, value: String)] = []
    var headers: [(name: String, value: String)] = []
    var body: ByteBuffer?
    /// The most response body that is read (error bodies are small; data pieces are not).
    var responseLimit: Int
    /// nil: the configuration's `requestTimeout`.
    var timeout: TimeAmount?
    /// Error statuses that are an answer rather than a failure (404 for HeadObject).
    var accept: Set<UInt>
    /// S3 may answer 200 with an `<Error>` body (CompleteMultipartUpload): check success bodies.
    var okMayBeError: Bool

    init(
        _ method: HTTPMethod, _ operation: String, key: String?, query: [(name: String, value: String)] = [],
        headers: [(name: String, value: String)] = [], body: ByteBuffer? = nil, responseLimit: Int = 1 << 20,
        timeout: TimeAmount? = nil, accept: Set<UInt> = [], okMayBeError: Bool = false
    ) {
        self.method = method
        self.operation = operation
        self.key = key
        self.query = query
        self.headers = headers
        self.body = body
        self.responseLimit = responseLimit
        self.timeout = timeout
        self.accept = accept
        self.okMayBeError = okMayBeError
    }
}

struct S3Response: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer
}

/// Signs, sends and retries S3 requests, and turns S3 errors into `BackupError`s.
struct S3Client: Sendable {
    let configuration: S3Target.Configuration
    let signer: SigV4Signer
    let logger: Logger

    init(configuration: S3Target.Configuration, logger: Logger) {
        self.configuration = configuration
        self.signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region)
        self.logger = logger
    }

    /// `s3://bucket/key`, for messages.
    func location(_ key: String?) -> String {
        "s3://\(configuration.bucket)\(key.map { "/\($0)" } ?? "")"
    }

    /// Sends `request`, retrying transient failures; returns a 2xx (or accepted) response or
    /// throws a `BackupError` (`.notFound` for a missing object, `.target` otherwise).
    func send(_ request: S3Request) async throws -> S3Response {
        let timeout = request.timeout ?? .nanoseconds(Self.nanoseconds(configuration.requestTimeout))
        var attempt = 0
        while true {
            let failure: String
            let attemptStarted = NIODeadline.now()
            do {
                let response = try await sendOnce(request, timeout: timeout)
                let isSuccess = (200..<300).contains(response.status.code)
                let errorCode = isSuccess && !request.okMayBeError ? nil : S3XML.error(in: response.body)?.code
                if isSuccess && errorCode == nil || request.accept.contains(response.status.code) { return response }
                guard attempt < configuration.retries, Self.isTransient(response.status, code: errorCode) else {
                    throw error(for: response, request: request)
                }
                failure = "HTTP \(response.status.code) \(errorCode ?? "")"
            } catch let error as BackupError {
                throw error
            } catch {
                if error is CancellationError || Task.isCancelled { throw error }
                let timedOut = NIODeadline.now() - attemptStarted >= .nanoseconds(timeout.nanoseconds * 9 / 10)
                guard attempt < configuration.retries, !timedOut, Self.isTransient(error) else {
                    let seconds = timeout.nanoseconds / 1_000_000_000
                    throw BackupError(
                        .backupTargetFailed,
                        "S3 \(request.operation) of \(location(request.key)) failed after \(attempt + 1) attempt(s)"
                            + "\(timedOut ? " (no answer within \(seconds) s)" : ""): \(error)")
                }
                failure = "\(error)"
            }
            attempt += 1
            logger.warning(
                "S3 request failed, retrying",
                metadata: ["operation": "\(request.operation)", "object": "\(location(request.key))", "attempt": "\(attempt)", "error": "\(failure)"])
            // 0.25 s, 0.5 s, 1 s, … (at most 8 s) with jitter so parallel clients do not retry in lockstep.
            try await Task.sleep(for: .milliseconds(Double(250 << min(attempt - 1, 5)) * Double.random(in: 0.75...1.25)))
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// A connection that broke mid-request is worth another try. One that could not be made is
    /// not: HTTPClient.shared has already retried connecting, with backoff, until it gave up.
    static func isTransient(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError { return error == .remoteConnectionClosed || error == .readTimeout }
        if let error = error as? IOError { return error.errnoCode == ECONNRESET || error.errnoCode == EPIPE }
        return false
    }

    /// 5xx, 429 (SlowDown) and S3's own "try again" codes.
    static func isTransient(_ status: HTTPResponseStatus, code: String?) -> Bool {
        status.code >= 500 || status.code == 429
            || ["RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable"].contains(code ?? "")
    }

    func error(for response: S3Response, request: S3Request) -> BackupError {
        let s3Error = S3XML.error(in: response.body)
        let code = s3Error?.code ?? response.status.reasonPhrase
        // A missing object is `.notFound`; a missing bucket or upload is a target problem.
        if response.status == .notFound && (s3Error == nil || code == "NoSuchKey") {
            return BackupError(.backupNotFound, "No backup object \(location(request.key)) (S3 \(request.operation): \(code)).")
        }
        let message = s3Error?.message.map { ": \($0)" } ?? ""
        return BackupError(
            .backupTargetFailed, "S3 \(request.operation) of \(location(request.key)) failed with HTTP \(response.status.code) \(code)\(message)")
    }

    private func sendOnce(_ request: S3Request, timeout: TimeAmount) async throws -> S3Response {
        let (url, host, path) = address(of: request.key, query: request.query)
        let payloadHash = request.body.map { body in body.withUnsafeReadableBytes { SigV4Signer.sha256Hex($0) } }
            ?? SigV4Signer.emptyPayloadHash
        let signed = signer.sign(
            SigV4Signer.Request(
                method: request.method.rawValue, path: path, query: request.query,
                headers: [("host", host)] + request.headers, payloadHash: payloadHash),
            at: Date())

        var http = HTTPClientRequest(url: url)
        http.method = request.method
        for header in signed { http.headers.add(name: header.name, value: header.value) }
        if let body = request.body {
            http.body = .bytes(body)
        } else if request.method == .PUT || request.method == .POST {
            http.body = .bytes(ByteBuffer())
        }
        let response = try await HTTPClient.shared.execute(http, timeout: timeout)
        let isSuccess = (200..<300).contains(response.status.code)
        var body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: isSuccess ? request.responseLimit : 1 << 20)
        } catch is NIOTooManyBytesError {
            throw BackupError(
                .backupTargetFailed, "S3 \(request.operation) of \(location(request.key)) returned more than \(request.responseLimit) bytes.")
        }
        if request.method == .HEAD { body.clear() }
        return S3Response(status: response.status, headers: response.headers, body: body)
    }

    /// The URL to send, the Host header, and the encoded path (the canonical URI).
    private func address(of key: String?, query: [(name: String, value: String)]) -> (url: String, host: String, path: String) {
        let endpoint = configuration.endpoint
        let scheme = endpoint.scheme ?? "https"
        var host = endpoint.host ?? ""
        if let port = endpoint.port, port != (scheme == "https" ? 443 : 80) { host += ":\(port)" }
        var path = endpoint.path.hasSuffix("/") ? String(endpoint.path.dropLast()) : endpoint.path
        let bucket = S3Path.encode(configuration.bucket)
        if configuration.pathStyle {
            path += "/\(bucket)"
            if let key { path += "/\(S3Path.encode(key))" }
        } else {
            host = "\(bucket).\(host)"
            path += "/\(key.map { S3Path.encode($0) } ?? "")"
        }
        // Empty values are sent bare (`?uploads`), as the AWS SDKs do; they are signed as `uploads=`.
        let queryString = query.map { item in
            item.value.isEmpty
                ? S3Path.encode(item.name, keepSlash: false)
                : "\(S3Path.encode(item.name, keepSlash: false))=\(S3Path.encode(item.value, keepSlash: false))"
        }.joined(separator: "&")
        return ("\(scheme)://\(host)\(path)\(queryString.isEmpty ? "" : "?\(queryString)")", host, path)
    }
}

// MARK: - Operations

extension S3Client {
    static let dataTimeout: TimeAmount = .minutes(10)

    func putObject(_ key: String, body: ByteBuffer) async throws {
        _ = try await send(S3Request(.PUT, "PutObject", key: key, body: body, timeout: Self.dataTimeout))
    }

    func createMultipartUpload(_ key: String) async throws -> String {
        let response = try await send(S3Request(.POST, "CreateMultipartUpload", key: key, query: [("uploads", "")]))
        guard let id = S3XML.values(of: "UploadId", in: response.body).first, !id.isEmpty else {
            throw BackupError(.backupTargetFailed, "S3 CreateMultipartUpload of \(location(key)) returned no UploadId.")
        }
        return id
    }

    /// Uploads part `number` and returns its ETag.
    func uploadPart(_ key: String, uploadID: String, number: Int, body: ByteBuffer) async throws -> String {
        let response = try await send(
            S3Request(
                .PUT, "UploadPart", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)], body: body,
                timeout: Self.dataTimeout))
        guard let etag = response.headers.first(name: "etag") else {
            throw BackupError(.backupTargetFailed, "S3 UploadPart \(number) of \(location(key)) returned no ETag.")
        }
        return etag
    }

    func completeMultipartUpload(_ key: String, uploadID: String, parts: [String]) async throws {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for (index, etag) in parts.enumerated() {
            xml += "<Part><PartNumber>\(index + 1)</PartNumber><ETag>\(S3XML.escape(etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        _ = try await send(
            S3Request(
                .POST, "CompleteMultipartUpload", key: key, query: [("uploadId", uploadID)],
                headers: [("content-type", "application/xml")], body: ByteBuffer(string: xml), timeout: Self.dataTimeout,
                okMayBeError: true))
    }

    func abortMultipartUpload(_ key: String, uploadID: String) async throws {
        // 404 NoSuchUpload: already aborted or completed.
        _ = try await send(S3Request(.DELETE, "AbortMultipartUpload", key: key, query: [("uploadId", uploadID)], accept: [404]))
    }

    /// Every key under `prefix`, following continuation tokens page by page.
    func listObjects(prefix: String) async throws -> [String] {
        var keys: [String] = []
        var token: String?
        repeat {
            var query: [(name: String, value: String)] = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await send(S3Request(.GET, "ListObjectsV2", key: nil, query: query, responseLimit: 16 << 20))
            keys += S3XML.values(of: "Key", in: response.body)
            let truncated = S3XML.values(of: "IsTruncated", in: response.body).first == "true"
            token = truncated ? S3XML.values(of: "NextContinuationToken", in: response.body).first : nil
            if truncated && token == nil {
                throw BackupError(.backupTargetFailed, "S3 ListObjectsV2 of \(location(prefix)) said there is more but gave no continuation token.")
            }
        } while token != nil
        return keys
    }

    func listMultipartUploads(prefix: String) async throws -> [String] {
        // One page (1,000 uploads) is plenty for what this is used for: checking none were left.
        let response = try await send(S3Request(.GET, "ListMultipartUploads", key: nil, query: [("uploads", ""), ("prefix", prefix)]))
        return S3XML.values(of: "Key", in: response.body)
    }

    func getRange(_ key: String, _ range: ClosedRange<UInt64>, etag: String?, limit: Int) async throws -> ByteBuffer {
        var headers: [(name: String, value: String)] = [("range", "bytes=\(range.lowerBound)-\(range.upperBound)")]
        // The object must not change between pieces; a replaced object fails with 412 rather
        // than splicing two objects together.
        if let etag { headers.append(("if-match", etag)) }
        let response = try await send(
            S3Request(.GET, "GetObject", key: key, headers: headers, responseLimit: limit, timeout: Self.dataTimeout))
        return response.body
    }
}

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

// MARK: - XML

/// The few things read from S3's XML answers, found by tag: S3's documents are flat enough
/// that this is exact for the elements used (Key, UploadId, IsTruncated, NextContinuationToken,
/// Code, Message).
enum S3XML {
    /// The text of every `<tag>…</tag>`, entities decoded.
    static func values(of tag: String, in body: ByteBuffer) -> [String] {
        values(of: tag, in: String(buffer: body))
    }

    static func values(of tag: String, in text: String) -> [String] {
        var results: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "<\(tag)>"), let close = rest.range(of: "</\(tag)>", range: open.upperBound..<rest.endIndex) {
            results.append(unescape(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return results
    }

    /// The `<Error><Code>` and `<Message>` of an error body, nil when it is not one.
    static func error(in body: ByteBuffer) -> (code: String, message: String?)? {
        guard body.readableBytes > 0, body.readableBytes < 1 << 20 else { return nil }
        let text = String(buffer: body)
        guard text.contains("<Error>"), let code = values(of: "Code", in: text).first else { return nil }
        return (code, values(of: "Message", in: text).first)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static func unescape(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semicolon = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semicolon]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16) : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                if let number, let scalar = Unicode.Scalar(number) { out.unicodeScalars.append(scalar) } else { out += "&\(entity);" }
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return out + rest
    }
}
