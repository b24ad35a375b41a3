import Foundation

/// A fresh directory under the system's temporary directory, removed with its contents when the
/// last reference goes: a struct suite holds one, and Swift Testing drops the suite after each test
/// (a struct has no tear-down of its own).
final class ScratchDirectory: Sendable {
    let path: String

    init(_ prefix: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
