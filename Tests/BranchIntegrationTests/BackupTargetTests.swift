@testable import BranchBackup
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The two kinds of backup target, each test run against both: a temporary directory and a
/// bucket on a local S3 (moto) that checks signatures.
enum TargetKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case directory
    case s3

    var testDescription: String { rawValue }
}

@Suite("Backup targets", .serialized)
struct BackupTargetTests {
    @Test("put, get, exists, list and delete small objects", arguments: TargetKind.allCases)
    func smallObjects(kind: TargetKind) async throws {
        try await withTarget(kind) { target in
            let manifest = Data(#"{"version":1}"#.utf8)
            try await target.put("app/b1/manifest.json", data: manifest)
            try await target.put("app/b2/manifest.json", data: Data("two".utf8))
            try await target.put("apple/b3/manifest.json", data: Data("three".utf8))
            try await target.put("other/odd name \u{e9}/manifest.json", data: Data("odd".utf8))

            #expect(try await target.get("app/b1/manifest.json") == manifest)
            #expect(try await target.get("other/odd name \u{e9}/manifest.json") == Data("odd".utf8))
            #expect(try await target.exists("app/b1/manifest.json"))
            #expect(try await target.exists("app/b1/data") == false)
            #expect(try await target.exists("app/b1") == false)

            // A put replaces.
            try await target.put("app/b1/manifest.json", data: Data("replaced".utf8))
            #expect(try await target.get("app/b1/manifest.json") == Data("replaced".utf8))

            // Prefixes are plain string prefixes, as in S3.
            #expect(try await target.list(prefix: "app/") == ["app/b1/manifest.json", "app/b2/manifest.json"])
            #expect(try await target.list(prefix: "app") == ["app/b1/manifest.json", "app/b2/manifest.json", "apple/b3/manifest.json"])
            #expect(try await target.list(prefix: "app/b2") == ["app/b2/manifest.json"])
            #expect(try await target.list(prefix: "").count == 4)
            #expect(try await target.list(prefix: "nothing/").isEmpty)

            try await target.delete("app/b1/manifest.json")
            #expect(try await target.exists("app/b1/manifest.json") == false)
            try await target.delete("app/b1/manifest.json")  // missing is fine
            #expect(try await target.list(prefix: "app/") == ["app/b2/manifest.json"])
        }
    }

    @Test("a missing object is .notFound for get and read", arguments: TargetKind.allCases)
    func missing(kind: TargetKind) async throws {
        try await withTarget(kind) { target in
            let getError = await #expect(throws: BackupError.self) { try await target.get("app/none/manifest.json") }
            #expect(getError?.code == .backupNotFound)
            let readError = await #expect(throws: BackupError.self) { _ = try await target.read("app/none/data") }
            #expect(readError?.code == .backupNotFound)
            let exists = try await target.exists("app/none/data")
            #expect(!exists)
        }
    }

    @Test("keys that could escape the target are refused", arguments: TargetKind.allCases)
    func badKeys(kind: TargetKind) async throws {
        try await withTarget(kind) { target in
            for key in ["../escape", "/etc/passwd", "app/../../escape", "app//x", ""] {
                let error = await #expect(throws: BackupError.self, "\(key)") { try await target.put(key, data: Data("x".utf8)) }
                #expect(error?.code == .backupTargetFailed)
                await #expect(throws: BackupError.self, "\(key)") { _ = try await target.openUpload(key) }
            }
        }
    }

    @Test("40 MB in odd-sized writes reads back byte for byte in bounded pieces", arguments: TargetKind.allCases)
    func largeUpload(kind: TargetKind) async throws {
        try await withTarget(kind) { target in
            let pattern = Pattern()
            let size = 40_000_000
            let upload = try await target.openUpload("app/b1/data")
            var (written, step) = (0, 0)
            while written < size {
                let count = min(Pattern.writeSizes[step % Pattern.writeSizes.count], size - written)
                try await upload.write(pattern.bytes(at: written, count: count))
                (written, step) = (written + count, step + 1)
            }
            #expect(try await target.exists("app/b1/data") == false, "nothing is visible before complete()")
            #expect(try await upload.complete() == UInt64(size))
            #expect(try await target.exists("app/b1/data"))
            #expect(try await target.list(prefix: "app/") == ["app/b1/data"])

            var offset = 0
            var pieces = 0
            for try await piece in try await target.read("app/b1/data") {
                #expect(!piece.isEmpty && piece.count <= BackupTargetDefaults.readPieceSize)
                guard pattern.matches(piece, at: offset) else {
                    Issue.record("bytes differ in the piece at offset \(offset)")
                    return
                }
                offset += piece.count
                pieces += 1
            }
            #expect(offset == size)
            #expect(pieces >= size / BackupTargetDefaults.readPieceSize)

            if let s3 = target as? S3Target {
                // A multipart object's ETag ends in -<number of parts>: 16 MiB parts make three.
                let head = try await s3.head("app/b1/data")
                #expect(head.size == UInt64(size))
                #expect(head.etag?.hasSuffix("-3\"") == true)
                #expect(try await s3.pendingUploads(prefix: "").isEmpty)
            }
        }
    }

    @Test("an aborted upload leaves nothing behind", arguments: TargetKind.allCases)
    func abort(kind: TargetKind) async throws {
        try await withTarget(kind) { target in
            let pattern = Pattern()
            // Past one part, so S3 has started a multipart upload with a stored part.
            let upload = try await target.openUpload("app/b1/data")
            try await upload.write(pattern.bytes(at: 0, count: 20_000_000))
            try await upload.write(pattern.bytes(at: 20_000_000, count: 1000))
            await upload.abort()
            await upload.abort()  // twice is harmless
            await #expect(throws: BackupError.self) { try await upload.write([1]) }

            // Still buffering: nothing was sent yet.
            let small = try await target.openUpload("app/b2/data")
            try await small.write([1, 2, 3])
            await small.abort()

            #expect(try await target.exists("app/b1/data") == false)
            #expect(try await target.list(prefix: "").isEmpty)
            if let s3 = target as? S3Target {
                #expect(try await s3.pendingUploads(prefix: "").isEmpty)
            }
            if let directory = target as? DirectoryTarget {
                #expect(filesUnder(directory.root).isEmpty)
            }
        }
    }

    @Test("tiny and empty uploads", arguments: TargetKind.allCases)
    func tinyAndEmpty(kind: TargetKind) async throws {
        try await withTarget(kind) { target in
            let tiny = try await target.openUpload("app/b1/data")
            try await tiny.write([1, 2])
            try await tiny.write([])
            try await tiny.write([3])
            #expect(try await tiny.complete() == 3)
            #expect(try await target.get("app/b1/data") == Data([1, 2, 3]))
            var pieces: [[UInt8]] = []
            for try await piece in try await target.read("app/b1/data") { pieces.append(piece) }
            #expect(pieces == [[1, 2, 3]])

            let empty = try await target.openUpload("app/b2/data")
            #expect(try await empty.complete() == 0)
            #expect(try await target.exists("app/b2/data"))
            #expect(try await target.get("app/b2/data").isEmpty)
            var emptyPieces = 0
            for try await _ in try await target.read("app/b2/data") { emptyPieces += 1 }
            #expect(emptyPieces == 0)
            await #expect(throws: BackupError.self) { _ = try await empty.complete() }
        }
    }

    @Test("listing follows continuation tokens past 1,000 keys", arguments: TargetKind.allCases)
    func manyKeys(kind: TargetKind) async throws {
        try await withTarget(kind) { target in
            let keys = (0..<1_050).map { "app/b\(String(format: "%04d", $0))/manifest.json" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, key) in keys.enumerated() {
                    if index >= 16 { try await group.next() }
                    group.addTask { try await target.put(key, data: Data(key.utf8)) }
                }
                try await group.waitForAll()
            }
            #expect(try await target.list(prefix: "app/") == keys)
            #expect(try await target.list(prefix: "app/b10").count == 50)
        }
    }

    @Test("an upload is invisible until complete and is then a plain file; modes are private")
    func directoryAtomicity() async throws {
        try await withTarget(.directory) { target in
            let directory = try #require(target as? DirectoryTarget)
            let upload = try await target.openUpload("app/b1/data")
            try await upload.write(Array(repeating: 7, count: 100))
            #expect(filesUnder(directory.root) == ["app/b1/data.partial"])
            #expect(try await target.list(prefix: "").isEmpty)
            #expect(try await target.exists("app/b1/data") == false)
            #expect(try await upload.complete() == 100)
            #expect(filesUnder(directory.root) == ["app/b1/data"])
            #expect(mode(of: directory.root) == 0o700)
            #expect(mode(of: "\(directory.root)/app/b1") == 0o700)
            #expect(mode(of: "\(directory.root)/app/b1/data") == 0o600)

            await #expect(throws: BackupError.self) { try await target.put("app/b1/x.partial", data: Data()) }

            // Deleting the last object of a backup removes its now-empty folders.
            try await target.delete("app/b1/data")
            #expect(!FileManager.default.fileExists(atPath: "\(directory.root)/app"))
        }
    }

    @Test("a directory whose filesystem fills up: backup_target_full, and no partial file stays")
    func directoryFull() async throws {
        let root = "/var/tmp/branch-tests/backup-full-\(Identifiers.shortID(length: 10))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        _ = try await Command.run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", root])
        do {
            let target = try DirectoryTarget(root: "\(root)/target", partSize: 256 << 10)
            let upload = try await target.openUpload("app/b1/data")
            let error = await #expect(throws: BackupError.self) {
                for _ in 0..<8 { try await upload.write([UInt8](repeating: 7, count: 256 << 10)) }
                _ = try await upload.complete()
            }
            #expect(error?.code == .backupTargetFull, "\(String(describing: error))")
            #expect(filesUnder(root).isEmpty)
            let put = await #expect(throws: BackupError.self) { try await target.put("app/b2/data", data: Data(repeating: 1, count: 2 << 20)) }
            #expect(put?.code == .backupTargetFull)
            #expect(filesUnder(root).isEmpty)
        } catch {
            _ = try? await Command.run("umount", [root])
            throw error
        }
        _ = try await Command.run("umount", [root])
        try? FileManager.default.removeItem(atPath: root)
    }

    @Test("S3 checks our signatures: correct credentials work, wrong ones are a target error naming the S3 error code")
    func signedRequests() async throws {
        try await MotoServer.with(authenticated: true) { server in
            // No prefix and plain keys: moto verifies signatures against the decoded URL (see
            // MotoServer), so only requests without percent-encoded characters pass its check.
            let target = try BackupTargets.parse(server.targetSpec(prefix: ""), environment: server.environment)
            try await target.put("app/b1/manifest.json", data: Data("m".utf8))
            #expect(try await target.get("app/b1/manifest.json") == Data("m".utf8))
            #expect(try await target.exists("app/b1/manifest.json"))
            let pattern = Pattern()
            let upload = try await target.openUpload("app/b1/data")
            try await upload.write(pattern.bytes(at: 0, count: 20_000_000))
            #expect(try await upload.complete() == 20_000_000)
            var offset = 0
            for try await piece in try await target.read("app/b1/data") {
                #expect(pattern.matches(piece, at: offset))
                offset += piece.count
            }
            #expect(offset == 20_000_000)
            #expect(try await target.list(prefix: "app") == ["app/b1/data", "app/b1/manifest.json"])
            try await target.delete("app/b1/data")
            let aborted = try await target.openUpload("app/b2/data")
            try await aborted.write(pattern.bytes(at: 0, count: 17_000_000))
            await aborted.abort()
            #expect(try await (target as? S3Target)?.pendingUploads(prefix: "app").isEmpty == true)

            let unknownKey = try BackupTargets.parse(
                server.targetSpec(prefix: ""), environment: ["AWS_ACCESS_KEY_ID": "AKIAUNKNOWN", "AWS_SECRET_ACCESS_KEY": "not-the-secret"])
            let unknown = await #expect(throws: BackupError.self) { try await unknownKey.put("app/b1/manifest.json", data: Data("x".utf8)) }
            #expect(unknown?.code == .backupTargetFailed)
            #expect(unknown?.message.contains("InvalidAccessKeyId") == true)
            #expect(unknown?.message.contains("not-the-secret") == false)

            let wrongSecret = try BackupTargets.parse(
                server.targetSpec(prefix: ""), environment: ["AWS_ACCESS_KEY_ID": server.accessKeyID, "AWS_SECRET_ACCESS_KEY": "not-the-secret"])
            let mismatch = await #expect(throws: BackupError.self) { _ = try await wrongSecret.get("app/b1/manifest.json") }
            #expect(mismatch?.code == .backupTargetFailed)
            #expect(mismatch?.message.contains("SignatureDoesNotMatch") == true)
            #expect(mismatch?.message.contains("s3://\(server.bucket)/app/b1/manifest.json") == true)
            let listing = await #expect(throws: BackupError.self) { _ = try await wrongSecret.list(prefix: "") }
            #expect(listing?.code == .backupTargetFailed)
            let multipart = await #expect(throws: BackupError.self) {
                let upload = try await wrongSecret.openUpload("app/b3/data")
                try await upload.write(pattern.bytes(at: 0, count: 17_000_000))
            }
            #expect(multipart?.message.contains("SignatureDoesNotMatch") == true)
        }
    }

    @Test("a bucket that does not exist is a target error, not a missing object")
    func missingBucket() async throws {
        try await MotoServer.with { server in
            let target = try BackupTargets.parse(
                "s3://no-such-bucket/p?endpoint=\(server.endpoint)&path-style=true", environment: server.environment)
            let error = await #expect(throws: BackupError.self) { _ = try await target.get("app/b1/manifest.json") }
            #expect(error?.code == .backupTargetFailed)
            #expect(error?.message.contains("NoSuchBucket") == true)
        }
    }

    @Test("5xx, SlowDown and dropped connections are retried with backoff; persistent failures name the S3 code")
    func retries() async throws {
        try await withFlakyServer { endpoint in
            let target = S3Target(
                configuration: try .init(
                    bucket: "bucket", prefix: "p", endpoint: endpoint, pathStyle: true,
                    credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b")))
            // Two 503 SlowDown answers, then the object.
            let started = ContinuousClock.now
            #expect(try await target.get("slow") == Data("ok".utf8))
            #expect(ContinuousClock.now - started > .milliseconds(400), "two backoffs of about 0.25 s and 0.5 s")
            // The first connection is closed without an answer.
            #expect(try await target.get("reset") == Data("ok".utf8))
            // Always 500: given up after the first try and three retries.
            let error = await #expect(throws: BackupError.self) { _ = try await target.get("broken") }
            #expect(error?.code == .backupTargetFailed)
            #expect(error?.message.contains("s3://bucket/p/broken failed with HTTP 500 InternalError: We encountered an internal error") == true)
            let hits = try await target.get("hits")
            #expect(String(decoding: hits, as: UTF8.self) == "slow=3 reset=2 broken=4")
        }
    }

    @Test("an endpoint that cannot be reached fails within the request timeout, saying where")
    func unreachable() async throws {
        // Nothing listens on port 1. HTTPClient keeps retrying the connection itself until the
        // deadline, so the target does not retry on top of that.
        let target = S3Target(
            configuration: try .init(
                bucket: "bucket", prefix: "p", endpoint: "http://127.0.0.1:1", pathStyle: true,
                credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"), requestTimeout: .seconds(2)))
        let started = ContinuousClock.now
        let error = await #expect(throws: BackupError.self) { _ = try await target.get("app/b1/manifest.json") }
        #expect(error?.code == .backupTargetFailed)
        #expect(error?.message.contains("GetObject of s3://bucket/p/app/b1/manifest.json failed after 1 attempt(s)") == true)
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}

// MARK: - Helpers

/// Runs `body` with a fresh, empty target of `kind` and removes it afterwards.
func withTarget<T>(_ kind: TargetKind, _ body: (any BackupTarget) async throws -> T) async throws -> T {
    switch kind {
    case .directory:
        let root = "/var/tmp/branch-tests/backup-\(Identifiers.shortID(length: 10))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A root that does not exist yet: the target creates it on the first write.
        return try await body(try DirectoryTarget(root: "\(root)/target"))
    case .s3:
        return try await MotoServer.with { server in
            try await body(try BackupTargets.parse(server.targetSpec(prefix: "backups"), environment: server.environment))
        }
    }
}

/// A stand-in S3 that fails on purpose, keyed by the last path segment: `slow` answers 503
/// SlowDown twice, `reset` drops the first connection unanswered, `broken` always answers 500,
/// then the object is `ok`; `hits` reports how often each was asked for.
func withFlakyServer<T>(_ body: (String) async throws -> T) async throws -> T {
    let script = #"""
        import http.server, sys, collections
        hits = collections.Counter()
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rstrip("/").split("/")[-1]
                hits[name] += 1
                def answer(status, body, content_type="application/xml"):
                    data = body.encode()
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                def error(status, code, message):
                    answer(status, f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{message}</Message></Error>")
                if name == "hits":
                    answer(200, f"slow={hits['slow']} reset={hits['reset']} broken={hits['broken']}", "text/plain")
                elif name == "slow" and hits[name] <= 2:
                    error(503, "SlowDown", "Please reduce your request rate.")
                elif name == "reset" and hits[name] == 1:
                    self.close_connection = True
                elif name == "broken":
                    error(500, "InternalError", "We encountered an internal error. Please try again.")
                else:
                    answer(200, "ok", "application/octet-stream")
            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#
    let log = "/var/tmp/branch-tests/flaky-\(Identifiers.shortID(length: 10)).log"
    try Files.ensureDirectory("/var/tmp/branch-tests", mode: 0o755)
    let pid = try Command.launch("python3", ["-c", script], environment: Command.baseEnvironment, logFile: log)
    defer { try? FileManager.default.removeItem(atPath: log) }
    do {
        var port: String?
        for _ in 0..<100 where port == nil {
            try await Task.sleep(for: .milliseconds(50))
            port = Files.read(log)?.split(separator: "\n").first.map(String.init)
        }
        guard let port, Int(port) != nil else { throw TestFailure("the flaky S3 stand-in did not start: \(Files.read(log) ?? "")") }
        let result = try await body("http://127.0.0.1:\(port)")
        kill(pid, SIGTERM)
        _ = await Command.waitForExit(pid)
        return result
    } catch {
        kill(pid, SIGTERM)
        _ = await Command.waitForExit(pid)
        throw error
    }
}

/// Every file under `root`, relative and sorted (partial uploads included).
func filesUnder(_ root: String) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
    var files: [String] = []
    while let path = enumerator.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: "\(root)/\(path)", isDirectory: &isDirectory), !isDirectory.boolValue {
            files.append(path)
        }
    }
    return files.sorted()
}

func mode(of path: String) -> Int? {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int).map { $0 & 0o7777 }
}

/// Test data whose byte at any offset is known without keeping the whole object: a random
/// block of prime length repeated, so pieces never line up with it.
struct Pattern {
    /// Odd write sizes: single bytes, sizes around page and part boundaries, several MB at once.
    static let writeSizes = [1, 7, 4093, 65_537, 1_000_003, 3_333_333, 9_999_991, 131]

    let block: [UInt8]

    init() {
        var generator = SystemRandomNumberGenerator()
        var block: [UInt8] = []
        block.reserveCapacity(1_000_003 + 8)
        while block.count < 1_000_003 {
            withUnsafeBytes(of: generator.next() as UInt64) { block.append(contentsOf: $0) }
        }
        self.block = Array(block.prefix(1_000_003))
    }

    func bytes(at offset: Int, count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var position = offset % block.count
        while out.count < count {
            let n = min(count - out.count, block.count - position)
            out.append(contentsOf: block[position..<(position + n)])
            position = 0
        }
        return out
    }

    func matches(_ piece: [UInt8], at offset: Int) -> Bool {
        let expected = bytes(at: offset, count: piece.count)
        return piece.withUnsafeBytes { a in expected.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } }
    }
}
