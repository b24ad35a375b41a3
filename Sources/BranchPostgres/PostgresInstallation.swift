import BranchCore
import BranchSystem
import Foundation

/// The Postgres server binaries Branch runs: where they are and which major version.
package struct PostgresInstallation: Sendable, Hashable {
    package let binDirectory: String
    package let major: Int
    /// Full version string, e.g. `15.18`.
    package let version: String

    package func tool(_ name: String) -> String { "\(binDirectory)/\(name)" }

    /// One field of a data directory's `pg_control` as `pg_controldata` prints it (`field` without
    /// its colon, e.g. "Latest checkpoint location"); nil when it cannot be read.
    package func controlData(_ field: String, in dataDirectory: String) async -> String? {
        let result = try? await Command.run(tool("pg_controldata"), [dataDirectory], check: false)
        for line in (result?.stdout ?? "").split(separator: "\n") where line.hasPrefix(field + ":") {
            return line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    /// Finds the server: `binDirectory` when given, else `pg_config --bindir` (Debian's
    /// /usr/bin/pg_config reports the newest installed server), else /usr/lib/postgresql/<newest>/bin.
    package static func discover(binDirectory override: String? = nil) async throws(PostgresError) -> PostgresInstallation {
        var candidates: [String] = []
        if let override {
            candidates = [override]
        } else {
            if let result = try? await Command.run("pg_config", ["--bindir"], check: false), result.succeeded {
                candidates.append(result.stdout.trimmingNewlines())
            }
            let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
                .compactMap(Int.init).sorted(by: >)
            candidates += versions.map { "/usr/lib/postgresql/\($0)/bin" }
        }
        for bin in candidates where FileManager.default.isExecutableFile(atPath: "\(bin)/postgres") {
            guard let result = try? await Command.run("\(bin)/postgres", ["--version"]) else { continue }
            // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
            let words = result.stdout.split(separator: " ")
            guard words.count >= 3 else { continue }
            let version = String(words[2])
            guard let major = Int(version.split(separator: ".").first ?? "") else { continue }
            return PostgresInstallation(binDirectory: bin, major: major, version: version)
        }
        let looked = candidates.isEmpty ? "pg_config and /usr/lib/postgresql" : candidates.joined(separator: ", ")
        throw PostgresError(.postgresNotInstalled, "No Postgres server found (looked in \(looked)).")
    }
}
