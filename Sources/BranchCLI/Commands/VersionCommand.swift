import ArgumentParser
import BranchAPI
import BranchCore
import Crypto
import Foundation

/// `branch version`: this binary's release, the previous one an upgrade kept beside it, and
/// (unless `--local`) the service's.
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Show the running and previous versions, and the binaries' paths.")

    @Flag(help: "Only this binary; do not ask the service (what an upgrade runs to check a new binary).")
    var local = false

    @OptionGroup var output: OutputOptions

    /// What `--json` prints; with `--local`, only the first four fields.
    struct Report: Encodable {
        var version: String
        var binary: String
        var previousVersion: String?
        var previousBinary: String?
        var service: Components.Schemas.VersionInfo?
        var serviceError: String?
    }

    func run() async throws {
        try await reportingErrors(json: output.json) {
            var report = Self.localReport()
            if !local {
                do {
                    report.service = try await APIClient.make().getVersion().ok.body.json
                } catch {
                    report.serviceError = ReportedError(APIClient.unwrapped(error)).message
                }
            }
            if output.json { return try Format.printJSON(report) }
            var table = Table("VERSION", "")
            table.add("this binary", "\(report.version) (\(report.binary))")
            if let previous = report.previousBinary { table.add("its previous", "\(report.previousVersion ?? "unknown") (\(previous))") }
            if let service = report.service {
                table.add("service", "\(service.version) (\(service.binary), catalog schema \(service.catalogVersion))")
                if let previous = service.previousBinary {
                    table.add("previous", "\(service.previousVersion ?? "unknown") (\(previous))")
                }
                if let last = service.lastUpgrade {
                    let what = last.manual ? "rollback" : "upgrade"
                    table.add("last \(what)", "\(last.from) → \(last.to): \(last.phase.replacingOccurrences(of: "_", with: " ")), \(Format.age(last.startedAt)) ago")
                    if let detail = last.detail { table.add("", Style.dim(detail)) }
                }
            } else if let error = report.serviceError {
                table.add("service", Style.dim(error))
            }
            print(table.rendered)
        }
    }

    static func localReport() -> Report {
        let paths = InstalledPaths.ofRunningProcess()
        var report = Report(
            version: InstalledPaths.version(binary: paths.binary, manifest: paths.manifest, sha256: sha256) ?? BuildVersion.current,
            binary: paths.binary)
        if FileManager.default.fileExists(atPath: paths.previous) {
            report.previousBinary = paths.previous
            report.previousVersion = InstalledPaths.version(binary: paths.previous, manifest: paths.previousManifest, sha256: sha256)
        }
        return report
    }

    /// SHA-256 of a file, in 1 MiB pieces.
    static func sha256(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
