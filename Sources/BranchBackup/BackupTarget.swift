import BranchCore
package import Foundation

/// Where backups are stored: a directory or an S3 bucket.
///
/// Keys are relative, `/`-separated paths such as `app/01J…/manifest.json`; the target adds its
/// own root or prefix. Small objects (manifests) go through `put`/`get`; the data of a backup,
/// which can be tens of GB, goes through `openUpload`/`read` in pieces so memory stays bounded
/// whatever its size.
package protocol BackupTarget: Sendable, CustomStringConvertible {
    /// Where the target points, for messages (`dir:/var/backups`, `s3://bucket/prefix`); never
    /// contains credentials.
    var description: String { get }

    /// Stores a small object, replacing any object with that key.
    func put(_ key: String, data: Data) async throws

    /// Starts storing a large object written in pieces; nothing is visible under `key` until
    /// `complete()` succeeds.
    func openUpload(_ key: String) async throws -> any BackupUpload

    /// Reads a small object whole; throws `BackupError(.backupNotFound)` when it does not exist.
    func get(_ key: String) async throws -> Data

    /// Reads an object in pieces of a few MiB, fetched as the stream is consumed (so at most one
    /// piece is held at a time); throws `BackupError(.backupNotFound)` when it does not exist.
    func read(_ key: String) async throws -> AsyncThrowingStream<[UInt8], any Error>

    /// Every key that starts with `prefix` (plain string prefix, `""` for all), sorted.
    func list(prefix: String) async throws -> [String]

    /// Removes an object; removing one that does not exist is not an error.
    func delete(_ key: String) async throws

    /// Whether a complete object is stored under `key`.
    func exists(_ key: String) async throws -> Bool
}

/// A large object being stored. Writes are buffered and sent in parts of the target's part size
/// (16 MiB by default). Use it from one task: calls must not overlap.
///
/// End every upload with `complete()` or `abort()`. If a write or `complete()` fails, what was
/// stored so far is removed before the error is thrown.
package protocol BackupUpload: Sendable {
    /// Appends bytes to the object.
    func write(_ bytes: [UInt8]) async throws
    /// Makes the object visible under its key and returns how many bytes it holds.
    func complete() async throws -> UInt64
    /// Removes what was written; does nothing after `complete()` or a previous `abort()`.
    func abort() async
}

/// Sizes shared by the targets.
package enum BackupTargetDefaults {
    /// Upload part size: the most an upload buffers. S3 needs at least 5 MiB per part and allows
    /// 10,000 parts, so 16 MiB parts allow objects up to 156 GiB.
    package static let partSize = 16 << 20
    /// Size of the pieces `read` yields.
    package static let readPieceSize = 4 << 20
    /// The largest object `get` returns; bigger ones must be streamed with `read`.
    package static let smallObjectLimit = 64 << 20
}

/// Turns the `--backup-target` setting into a target.
package enum BackupTargets {
    /// Parses a target specification:
    ///
    /// - `dir:/path` or a bare absolute path `/path`: a directory;
    /// - `s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&path-style=true`:
    ///   an S3 bucket (every query parameter optional). Credentials come from
    ///   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN` in
    ///   `environment`; the region defaults to us-east-1 and the endpoint to
    ///   `https://s3.<region>.amazonaws.com`, addressed virtual-host style unless `path-style=true`.
    package static func parse(_ spec: String, environment: [String: String]) throws(BackupError) -> any BackupTarget {
        if spec.hasPrefix("dir:") {
            return try DirectoryTarget(root: String(spec.dropFirst(4)))
        }
        if spec.hasPrefix("/") {
            return try DirectoryTarget(root: spec)
        }
        if spec.hasPrefix("s3://") {
            return try S3Target(configuration: parseS3(spec, environment: environment))
        }
        // Only the scheme is echoed: the rest might hold something secret, such as a password.
        let scheme = spec.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        throw BackupError(
            .backupTargetFailed,
            "Unknown backup target \(scheme.isEmpty || scheme == spec ? "'\(spec.prefix(40))'" : "scheme '\(scheme):'"); "
                + "use dir:/path, an absolute path, or s3://bucket/prefix.")
    }

    static func parseS3(_ spec: String, environment: [String: String]) throws(BackupError) -> S3Target.Configuration {
        guard let components = URLComponents(string: spec), let bucket = components.host, !bucket.isEmpty else {
            throw BackupError(.backupTargetFailed, "Backup target \(spec) is not a valid s3://bucket/prefix URL.")
        }
        guard components.user == nil, components.password == nil else {
            // Never echo the spec here: it holds credentials.
            throw BackupError(
                .backupTargetFailed,
                "The s3:// backup target must not contain credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead.")
        }
        var region = "us-east-1"
        var endpoint: String?
        var pathStyle = false
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "region": region = value
            case "endpoint": endpoint = value
            case "path-style":
                guard let flag = ["true": true, "1": true, "false": false, "0": false][value.lowercased()] else {
                    throw BackupError(.backupTargetFailed, "Backup target \(bucket): path-style must be true or false, not '\(value)'.")
                }
                pathStyle = flag
            default:
                throw BackupError(
                    .backupTargetFailed, "Backup target s3://\(bucket): unknown parameter '\(item.name)' (known: endpoint, region, path-style).")
            }
        }
        guard let accessKey = environment["AWS_ACCESS_KEY_ID"], !accessKey.isEmpty,
            let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        else {
            throw BackupError(
                .backupTargetFailed, "Backup target s3://\(bucket) needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment.")
        }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return try S3Target.Configuration(
            bucket: bucket,
            prefix: components.path,
            region: region,
            endpoint: endpoint,
            pathStyle: pathStyle,
            credentials: AWSCredentials(accessKeyID: accessKey, secretAccessKey: secret, sessionToken: token))
    }
}

/// Key rules both targets enforce, so a key that works on one works on the other and a
/// directory target can never be made to write outside its root.
enum ObjectKeys {
    /// A relative key of non-empty segments, none of them `.` or `..`, no NUL.
    static func validate(_ key: String, in target: String) throws(BackupError) {
        let segments = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, !key.hasPrefix("/"), !key.contains("\0"),
            segments.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else {
            throw BackupError(.backupTargetFailed, "Invalid backup key '\(key)' for \(target): keys are relative paths without '.', '..' or empty parts.")
        }
    }

    /// A list prefix: like a key, but may be empty or end with `/`.
    static func validatePrefix(_ prefix: String, in target: String) throws(BackupError) {
        guard !prefix.isEmpty else { return }
        try validate(prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix, in: target)
    }
}
