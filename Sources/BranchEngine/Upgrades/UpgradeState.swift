package import Foundation
import BranchSystem

/// The record of the last upgrade (or rollback by hand), in `<pool>/upgrade/state.json` (0600):
/// what the detached watchdog needs to finish it or roll it back after the service restarted —
/// or failed to — and what `branch version` reports.
package struct UpgradeState: Codable, Sendable {
    package enum Phase: String, Codable, Sendable {
        /// Binary swapped, service restarting; the watchdog decides.
        case restarting
        /// The new service answered its health check with the new version.
        case succeeded
        /// The new service was not healthy in time: previous binary and catalog put back.
        case rolledBack = "rolled_back"
        /// Even the rollback did not bring the service back: an operator must look.
        case rollbackFailed = "rollback_failed"
    }

    /// One side of the swap.
    package struct Release: Codable, Sendable {
        package var version: String
        package var sha256: String
        /// The catalog schema the binary knows.
        package var catalogVersion: Int?
    }

    /// How the service is restarted: by systemd (`unit`), or by re-executing the same command.
    package struct Restart: Codable, Sendable {
        package var systemdUnit: String?
        /// The service's pid before the restart (re-exec keeps it).
        package var pid: Int32
        package var arguments: [String]
        package var environment: [String: String]
        package var directory: String
        /// Where the service's output went (a file), for a service the watchdog starts again.
        package var logFile: String?
        /// The pid of a service the watchdog started after a rollback.
        package var restartedPID: Int32?
    }

    package var id: String
    package var phase: Phase
    /// A rollback by hand (`branch upgrade --rollback`) rather than an upgrade.
    package var manual: Bool
    package var from: Release
    package var to: Release
    package var binary: String
    package var previousBinary: String
    package var catalog: String
    package var catalogBackup: String?
    /// Whether a failed restart also puts the catalog backup back.
    package var restoreCatalog: Bool
    package var healthURL: String
    package var healthTimeoutSeconds: Int
    package var restart: Restart
    package var startedAt: Date
    package var finishedAt: Date?
    package var detail: String?
    /// Whether the service has raised the alert for how it ended.
    package var reported: Bool

    package static func path(pool: String) -> String { "\(pool)/upgrade/state.json" }

    package static func load(_ path: String) -> UpgradeState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(UpgradeState.self, from: data)
    }

    package func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try Files.writeAtomically(String(decoding: try encoder.encode(self), as: UTF8.self) + "\n", to: path, mode: 0o600)
    }

    package var isFinished: Bool { phase != .restarting }
}
