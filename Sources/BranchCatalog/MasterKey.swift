import BranchCore
import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The 256-bit key the catalog's secrets are sealed with, kept in a file outside the pool
/// (default `/etc/branch/master.key`: base64, mode 0600, in a 0700 directory) so a copy of the
/// pool alone does not give them away.
///
/// `id` is a fingerprint that is safe to store and show; `description`, reflection and errors
/// never contain key material.
package struct MasterKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Where `branch serve` keeps the key when `--master-key-file` is not given.
    package static let defaultPath = "/etc/branch/master.key"

    let key: SymmetricKey

    init(key: SymmetricKey) {
        precondition(key.bitCount == 256)
        self.key = key
    }

    /// Parses standard base64 of exactly 32 bytes; surrounding whitespace is ignored.
    package init(base64: String) throws(CatalogError) {
        let trimmed = base64.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64Encoded: trimmed) else {
            throw CatalogError(.masterKeyInvalid, "The master key is not valid base64.", hint: Self.formatHint)
        }
        guard data.count == 32 else {
            throw CatalogError(.masterKeyInvalid, "The master key must be 32 bytes; it decodes to \(data.count).", hint: Self.formatHint)
        }
        self.init(key: SymmetricKey(data: data))
    }

    /// A new random key.
    package static func generate() -> MasterKey { MasterKey(key: SymmetricKey(size: .bits256)) }

    /// The key as standard base64, as the key file holds it. Handle with care.
    package var base64: String { key.withUnsafeBytes { Data($0).base64EncodedString() } }

    /// A fingerprint of the key, safe to store and print: the first 16 hex digits of
    /// HMAC-SHA256(key, "branch-master-key-id"). Tells a wrong key from a damaged value.
    package var id: String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("branch-master-key-id".utf8), using: key)
        return mac.prefix(8).map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    package var description: String { "MasterKey(id: \(id))" }
    package var debugDescription: String { description }
    /// Keeps `dump` and reflection from printing the key bytes.
    package var customMirror: Mirror { Mirror(self, children: ["id": id]) }

    static let formatHint = "The file holds 32 random bytes in base64, e.g. from `head -c 32 /dev/urandom | base64`."

    // MARK: The key file

    /// Reads the key at `path`, or makes a new one there when no file exists (its directory,
    /// when missing, is made with mode 0700). `created` says which, so a start that fails can
    /// take a key it just made back. A file readable or writable by group or others is refused.
    package static func loadOrCreate(path: String) throws(CatalogError) -> (key: MasterKey, created: Bool) {
        var info = stat()
        // stat, not lstat: a key file is often a symlink (a mounted secret); its target's mode matters.
        if stat(path, &info) == 0 {
            return (try load(path: path, info: info), false)
        }
        guard errno == ENOENT else {
            throw CatalogError(.masterKeyInvalid, "Cannot read the master key file \(path): \(String(cString: strerror(errno))).")
        }
        let key = generate()
        if try write(key, to: path) { return (key, true) }
        // Another process made it between the stat and the link: use theirs.
        return (try load(path: path, info: nil), false)
    }

    /// Removes a key file this start made, when the start failed before anything was sealed with it.
    package static func remove(createdAt path: String) { unlink(path) }

    private static func load(path: String, info known: stat?) throws(CatalogError) -> MasterKey {
        var info = known ?? stat()
        if known == nil, stat(path, &info) != 0 {
            throw CatalogError(.masterKeyInvalid, "Cannot read the master key file \(path): \(String(cString: strerror(errno))).")
        }
        guard info.st_mode & 0o170000 == 0o100000 else {
            throw CatalogError(.masterKeyInvalid, "The master key file \(path) is not a regular file.")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw CatalogError(
                .masterKeyInvalid, "The master key file \(path) is accessible to group or others (mode \(String(mode, radix: 8))).",
                hint: "Run `chmod 600 \(path)`.")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CatalogError(.masterKeyInvalid, "Cannot read the master key file \(path).", hint: "The service runs as root and must read it.")
        }
        do {
            return try MasterKey(base64: String(decoding: data, as: UTF8.self))
        } catch {
            throw CatalogError(.masterKeyInvalid, "The master key file \(path) is damaged: \(error.message)", hint: error.hint)
        }
    }

    /// Writes `key` to `path` with mode 0600 without ever replacing a file that exists: the key is
    /// written and synced under a temporary name, then hard-linked into place. False when `path`
    /// appeared meanwhile.
    private static func write(_ key: MasterKey, to path: String) throws(CatalogError) -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw CatalogError(.masterKeyInvalid, "Cannot create the directory of the master key file \(path): \(error.localizedDescription)")
            }
            chmod(directory, 0o700)
        }
        let temporary = "\(path).\(getpid()).tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CatalogError(.masterKeyInvalid, "Cannot create the master key file \(path): \(String(cString: strerror(errno))).")
        }
        defer { unlink(temporary) }
        let bytes = Array((key.base64 + "\n").utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else {
            throw CatalogError(.masterKeyInvalid, "Cannot write the master key file \(path): \(String(cString: strerror(errno))).")
        }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return false }
            throw CatalogError(.masterKeyInvalid, "Cannot create the master key file \(path): \(String(cString: strerror(errno))).")
        }
        // The directory entry itself, so a crash right after the start does not lose the key.
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
        return true
    }
}

extension CatalogError {
    /// The master key file was missing, so a start made a new key, but the catalog is sealed with
    /// another one (`error`): the file was lost or the path is wrong.
    package static func masterKeyMissing(_ path: String, catalogError error: CatalogError) -> CatalogError {
        CatalogError(
            .masterKeyMismatch, "There is no master key file at \(path), and this pool's catalog is sealed with another key. \(error.message)",
            hint: "Put the master key file this pool was first started with back at \(path), or pass its path with `--master-key-file` "
                + "(the key this start made was not kept). See docs/security.md.")
    }
}
