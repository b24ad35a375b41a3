import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A secret kept in a small file outside the pool: one line of base64, mode 0600, in a 0700
/// directory (the master key, the backup key). Reading refuses a file group or others can touch;
/// making one never replaces a file that exists. Errors name the file, never its contents.
package enum KeyFile {
    /// Why a key file could not be read or made: `message` names the file (as `label`), `hint` says what to do.
    package struct Failure: Error, Sendable {
        package let message: String
        package let hint: String?
    }

    /// The file's text, checked to be a regular file only its owner can read or write.
    /// `label` names it in messages ("master key file").
    package static func read(_ path: String, label: String) throws(Failure) -> String {
        var info = stat()
        // stat, not lstat: a key file is often a symlink (a mounted secret); its target's mode matters.
        guard stat(path, &info) == 0 else {
            throw Failure(message: "Cannot read the \(label) \(path): \(String(cString: strerror(errno))).", hint: nil)
        }
        guard info.st_mode & 0o170000 == 0o100000 else {
            throw Failure(message: "The \(label) \(path) is not a regular file.", hint: nil)
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw Failure(
                message: "The \(label) \(path) is accessible to group or others (mode \(String(mode, radix: 8))).",
                hint: "Run `chmod 600 \(path)`.")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(message: "Cannot read the \(label) \(path).", hint: "The service runs as root and must read it.")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads the file at `path`, or, when there is none, writes `generate()`'s text there first.
    /// `created` says which, so a start that fails can take back a key it just made.
    package static func readOrCreate(_ path: String, label: String, generate: () -> String) throws(Failure) -> (text: String, created: Bool) {
        var info = stat()
        if stat(path, &info) == 0 { return (try read(path, label: label), false) }
        guard errno == ENOENT else {
            throw Failure(message: "Cannot read the \(label) \(path): \(String(cString: strerror(errno))).", hint: nil)
        }
        let text = generate()
        if try write(text, to: path, label: label) { return (text, true) }
        // Another process made it between the stat and the link: use theirs.
        return (try read(path, label: label), false)
    }

    /// Removes a key file this start made, when the start failed before anything used it.
    package static func remove(createdAt path: String) { unlink(path) }

    /// Replaces the file at `path` with `text` (mode 0600) in one rename, so a crash leaves the old
    /// text or the new one, never a mix; the file is made when there is none. Refuses a symbolic
    /// link: a key file that is a link is a mounted secret, changed where it comes from.
    package static func replace(_ text: String, at path: String, label: String) throws(Failure) {
        var info = stat()
        if lstat(path, &info) == 0, info.st_mode & 0o170000 == 0o120000 {
            throw Failure(
                message: "The \(label) \(path) is a symbolic link; Branch does not replace what it points to.",
                hint: "Put the new key where the link points yourself, or give the service a key file of its own.")
        }
        let temporary = try writeTemporary(text, for: path, label: label)
        defer { unlink(temporary) }
        guard rename(temporary, path) == 0 else {
            throw Failure(message: "Cannot replace the \(label) \(path): \(String(cString: strerror(errno))).", hint: nil)
        }
        syncDirectory(of: path)
    }

    /// Writes `text` and a newline to `path` with mode 0600 without ever replacing a file that
    /// exists: written and synced under a temporary name, then hard-linked into place (its
    /// directory, when missing, made 0700). False when `path` appeared meanwhile.
    private static func write(_ text: String, to path: String, label: String) throws(Failure) -> Bool {
        let temporary = try writeTemporary(text, for: path, label: label)
        defer { unlink(temporary) }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return false }
            throw Failure(message: "Cannot create the \(label) \(path): \(String(cString: strerror(errno))).", hint: nil)
        }
        // The directory entry itself, so a crash right after the start does not lose the key.
        syncDirectory(of: path)
        return true
    }

    /// `text` and a newline, written and synced to a new file beside `path` (mode 0600; the
    /// directory, when missing, made 0700). Returns its path; the caller links or renames it.
    private static func writeTemporary(_ text: String, for path: String, label: String) throws(Failure) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw Failure(message: "Cannot create the directory of the \(label) \(path): \(error.localizedDescription)", hint: nil)
            }
            chmod(directory, 0o700)
        }
        let temporary = "\(path).\(getpid()).tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Failure(message: "Cannot create the \(label) \(path): \(String(cString: strerror(errno))).", hint: nil)
        }
        let bytes = Array((text + "\n").utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else {
            unlink(temporary)
            throw Failure(message: "Cannot write the \(label) \(path): \(String(cString: strerror(errno))).", hint: nil)
        }
        return temporary
    }

    private static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }
}
