import BranchCore
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

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
