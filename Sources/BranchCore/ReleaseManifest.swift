package import Foundation

/// The version this build was compiled as; an installed release's manifest can name another
/// (`InstalledPaths.version`).
package enum BuildVersion {
    package static let current = "0.1.0"
}

/// What a release archive says about the `branch` binary it carries (`manifest.json`), signed by
/// `manifest.sig`. The same record, unsigned, sits beside an installed binary
/// (`<binary>.manifest.json`) and names its version: a binary whose hash matches it is that release.
package struct ReleaseManifest: Codable, Sendable, Equatable {
    /// The release's version (`MAJOR.MINOR.PATCH`, optionally `-suffix`).
    package var version: String
    /// The oldest catalog schema (its newest migration's number) the binary can open and migrate.
    package var minimumCatalogVersion: Int
    /// SHA-256 of the binary, lowercase hex.
    package var sha256: String
    /// When the release was built (ISO 8601).
    package var builtAt: String

    package init(version: String, minimumCatalogVersion: Int, sha256: String, builtAt: String) {
        self.version = version
        self.minimumCatalogVersion = minimumCatalogVersion
        self.sha256 = sha256
        self.builtAt = builtAt
    }

    /// Reads a manifest, refusing one whose fields do not make sense (a version that is not
    /// MAJOR.MINOR.PATCH, a hash that is not 64 hex digits).
    package static func parse(_ data: Data) throws(ReleaseManifestError) -> ReleaseManifest {
        let manifest: ReleaseManifest
        do {
            manifest = try JSONDecoder().decode(ReleaseManifest.self, from: data)
        } catch {
            throw ReleaseManifestError("manifest.json is not a release manifest: \(error)")
        }
        guard ReleaseVersion(manifest.version) != nil else {
            throw ReleaseManifestError("manifest.json names version '\(manifest.version)', not MAJOR.MINOR.PATCH.")
        }
        guard manifest.sha256.count == 64, manifest.sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw ReleaseManifestError("manifest.json's sha256 is not 64 lowercase hex digits.")
        }
        guard manifest.minimumCatalogVersion >= 1 else {
            throw ReleaseManifestError("manifest.json's minimumCatalogVersion must be at least 1.")
        }
        return manifest
    }

    /// The manifest as stored: sorted keys, so the signed bytes are reproducible.
    package func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }
}

/// A manifest that cannot be read.
package struct ReleaseManifestError: Error, Sendable, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// A release version, compared field by field (`0.10.0` is newer than `0.9.3`; `1.0.0-rc1` is
/// older than `1.0.0`).
package struct ReleaseVersion: Comparable, Sendable, CustomStringConvertible {
    package let numbers: [Int]
    package let suffix: String?

    package init?(_ text: String) {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        let numbers = parts[0].split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard numbers.count == 3, numbers.allSatisfy({ ($0 ?? -1) >= 0 }) else { return nil }
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." }) else { return nil }
        }
        self.numbers = numbers.map { $0! }
        self.suffix = parts.count == 2 ? String(parts[1]) : nil
    }

    package var description: String { numbers.map(String.init).joined(separator: ".") + (suffix.map { "-\($0)" } ?? "") }

    package static func < (lhs: ReleaseVersion, rhs: ReleaseVersion) -> Bool {
        if lhs.numbers != rhs.numbers { return lhs.numbers.lexicographicallyPrecedes(rhs.numbers) }
        switch (lhs.suffix, rhs.suffix) {
        case (nil, _): return false
        case (_, nil): return true
        case let (l?, r?): return l.compare(r, options: .numeric) == .orderedAscending
        }
    }

    package static func == (lhs: ReleaseVersion, rhs: ReleaseVersion) -> Bool { lhs.numbers == rhs.numbers && lhs.suffix == rhs.suffix }
}

/// Where an installed binary's companions live: the previous binary an upgrade kept and the
/// manifests that name each one's version.
package struct InstalledPaths: Sendable, Equatable {
    package let binary: String

    package init(binary: String) { self.binary = binary }

    package var manifest: String { "\(binary).manifest.json" }
    package var previous: String { "\(binary).previous" }
    package var previousManifest: String { "\(binary).previous.manifest.json" }
    /// The previous binary of the previous upgrade, kept while an upgrade is being checked: a
    /// rollback puts it back as `previous`, so `--rollback` never offers the binary that failed.
    package var kept: String { "\(binary).kept" }
    package var keptManifest: String { "\(binary).kept.manifest.json" }
    /// A binary an automatic rollback took out, for the operator to look at.
    package var failed: String { "\(binary).failed" }
    package var failedManifest: String { "\(binary).failed.manifest.json" }

    /// The binary this process runs (resolved from /proc/self/exe).
    package static func ofRunningProcess() -> InstalledPaths {
        let resolved = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return InstalledPaths(binary: resolved.hasSuffix(" (deleted)") ? String(resolved.dropLast(10)) : resolved)
    }

    /// The version of the binary at `binary`: its manifest's when `sha256` of the file matches the
    /// manifest beside it, else nil (a build that was not installed from a release).
    package static func version(binary: String, manifest: String, sha256: (String) -> String?) -> String? {
        guard let data = FileManager.default.contents(atPath: manifest), let record = try? ReleaseManifest.parse(data),
            sha256(binary) == record.sha256
        else { return nil }
        return record.version
    }
}
