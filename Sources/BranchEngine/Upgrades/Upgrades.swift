package import BranchCore
import BranchCatalog
import BranchStorage
import BranchSystem
package import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Self-update: verify a signed release, back up the catalog, swap the binary atomically, restart
/// the service (systemd, or a re-exec) and leave a detached watchdog that checks the new service's
/// health and rolls binary and catalog back when it is not healthy in time (docs/operations.md).
package struct Upgrades: EnginePart {
    let context: EngineContext

    /// How long the new service has to answer its health check with its version.
    static let healthTimeoutSeconds = 60

    /// What `branch version` shows of the service.
    package struct VersionReport: Sendable {
        package var version: String
        package var binary: String
        package var catalogVersion: Int
        package var previousVersion: String?
        package var previousBinary: String?
        package var lastUpgrade: UpgradeState?
    }

    /// An upgrade (or rollback) under way: the service restarts right after answering.
    package struct Started: Sendable {
        package var from: String
        package var to: String
        package var manual: Bool
        package var restart: String
        package var healthTimeoutSeconds: Int
    }

    var statePath: String { UpgradeState.path(pool: layout.root) }
    var stateDirectory: String { "\(layout.root)/upgrade" }

    package func version() async -> VersionReport {
        let release = context.release
        let paths = release.paths
        var report = VersionReport(
            version: release.version, binary: paths.binary, catalogVersion: Catalog.schemaVersion, lastUpgrade: UpgradeState.load(statePath))
        if Files.exists(paths.previous) {
            report.previousBinary = paths.previous
            report.previousVersion = try? await BlockingWork.run {
                InstalledPaths.version(binary: paths.previous, manifest: paths.previousManifest) { FileDigest.sha256($0) }
            }
        }
        report.lastUpgrade?.restart.environment = [:]
        return report
    }

    /// Upgrades to the release archive at `source` (a path on the server, or an http(s) URL).
    package func upgrade(from source: String) async throws -> Started {
        try await exclusively { work in
            let archive = try await fetch(source, into: work)
            let unpacked = "\(work)/release"
            try Files.ensureDirectory(unpacked, mode: 0o700)
            try await ReleaseArchive.unpack(archive, into: unpacked)
            let keys = try ReleaseKeys.trusted(extraDirectory: Self.releaseKeysDirectory(masterKeyFile: configuration.masterKeyFile))
            let manifest = try await ReleaseArchive.verify(
                unpacked, keys: keys, running: context.release.version, catalogVersion: Catalog.schemaVersion)
            let binary = "\(unpacked)/\(ReleaseArchive.binaryName)"
            let manifestText = String(decoding: manifest.encoded(), as: UTF8.self)
            try Files.writeAtomically(manifestText, to: InstalledPaths(binary: binary).manifest, mode: 0o644)
            try await probe(binary, expecting: manifest.version)
            return try await install(
                newBinary: binary, manifest: manifestText, to: .init(version: manifest.version, sha256: manifest.sha256, catalogVersion: nil),
                manual: false, work: work)
        }
    }

    /// Goes back to the previous binary (`branch upgrade --rollback`): the same steps as an
    /// upgrade, with the watchdog ready to come back here if the previous one does not start.
    package func rollback() async throws -> Started {
        try await exclusively { work in
            let paths = context.release.paths
            guard Files.exists(paths.previous) else {
                throw EngineError(.noPreviousRelease, "There is no previous binary (\(paths.previous)) to go back to.", hint: "Only an upgrade keeps one.")
            }
            if let last = UpgradeState.load(statePath), last.to.sha256 == (await context.release.digest()), let before = last.from.catalogVersion,
                before < Catalog.schemaVersion
            {
                throw EngineError(
                    .releaseIncompatible,
                    "The catalog was migrated to schema \(Catalog.schemaVersion) by \(context.release.version); the previous binary knows \(before).",
                    hint: "Stop the service, copy \(last.catalogBackup ?? "the catalog backup") over \(layout.catalog) (changes since the upgrade are lost), then swap \(paths.previous) and \(paths.binary).")
            }
            let candidate = "\(work)/branch"
            try await BlockingWork.run { try AtomicSwap.copy(paths.previous, to: candidate, mode: 0o755) }
            let sha = try await BlockingWork.run { FileDigest.sha256(candidate) } ?? ""
            let version = InstalledPaths.version(binary: candidate, manifest: paths.previousManifest) { _ in sha } ?? "unknown"
            let manifestText = Files.read(paths.previousManifest)
                ?? String(decoding: ReleaseManifest(version: version, minimumCatalogVersion: 1, sha256: sha, builtAt: "").encoded(), as: UTF8.self)
            try Files.writeAtomically(manifestText, to: InstalledPaths(binary: candidate).manifest, mode: 0o644)
            try await probe(candidate, expecting: version == "unknown" ? nil : version)
            return try await install(newBinary: candidate, manifest: manifestText, to: .init(version: version, sha256: sha, catalogVersion: nil), manual: true, work: work)
        }
    }

    /// The catalog schema this build knows (a release's default minimum).
    package static var catalogSchemaVersion: Int { Catalog.schemaVersion }

    /// `release-keys` beside the master key: the operator's own signing keys.
    package static func releaseKeysDirectory(masterKeyFile: String) -> String {
        "\((masterKeyFile as NSString).deletingLastPathComponent)/release-keys"
    }

    // MARK: Steps

    /// One upgrade at a time, with a work directory that is removed afterwards.
    private func exclusively(_ body: (String) async throws -> Started) async throws -> Started {
        // A watchdog that never wrote its verdict (killed with the machine) does not block upgrades forever.
        if let last = UpgradeState.load(statePath), !last.isFinished,
            Date().timeIntervalSince(last.startedAt) < Double(last.healthTimeoutSeconds + 120)
        {
            throw EngineError(.upgradeInProgress, "Upgrade \(last.id) to \(last.to.version) is still being checked.", hint: "Wait for it: `branch version` shows how it ended.")
        }
        guard context.release.claim() else {
            throw EngineError(.upgradeInProgress, "Another upgrade is under way.", hint: "Wait for it: `branch version` shows how it ended.")
        }
        let work = "\(layout.work)/upgrade-\(Identifiers.shortID(length: 10))"
        defer { try? FileManager.default.removeItem(atPath: work) }
        do {
            try Files.ensureDirectory(work, mode: 0o700)
            let started = try await body(work)
            return started
        } catch {
            context.release.release()
            throw error
        }
    }

    private func fetch(_ source: String, into work: String) async throws -> String {
        if source.hasPrefix("https://") || source.hasPrefix("http://") {
            let file = "\(work)/release.tar"
            let result = try await Command.run("curl", ["-fsSL", "--max-time", "900", "-o", file, source], check: false)
            guard result.succeeded else {
                throw EngineError(.releaseUnavailable, "Could not download \(source): \(result.tail)", hint: "Check the URL, or download it and give the file.")
            }
            return file
        }
        guard source.hasPrefix("/") else {
            throw EngineError(.invalidRequest, "'\(source)' is neither an absolute path on the server nor an http(s) URL.", hint: "Give the archive's absolute path.")
        }
        guard Files.exists(source) else {
            throw EngineError(.releaseUnavailable, "There is no file \(source) on the server.", hint: "Copy the release archive to the server first.")
        }
        return source
    }

    /// Runs `<binary> version --json --local` in a scratch directory: a binary that cannot run
    /// here (wrong architecture, missing libraries) is refused before anything changes.
    private func probe(_ binary: String, expecting version: String?) async throws {
        let directory = (binary as NSString).deletingLastPathComponent
        let result = try await Command.run(
            "/usr/bin/env", ["-C", directory, "timeout", "30", binary, "version", "--json", "--local"], check: false)
        struct Printed: Decodable { let version: String }
        guard result.succeeded, let printed = try? JSONDecoder().decode(Printed.self, from: Data(result.stdout.utf8)) else {
            throw EngineError(
                .releaseInvalid, "The release's binary does not run here (`branch version` exited with \(result.status): \(result.tail)); nothing was changed.",
                hint: "Use the release built for this system.")
        }
        if let version, printed.version != version {
            throw EngineError(.releaseInvalid, "The release's binary says it is \(printed.version), its manifest says \(version); nothing was changed.")
        }
    }

    /// Steps 2–4: catalog backup, atomic swap, watchdog, restart.
    private func install(newBinary: String, manifest: String, to target: UpgradeState.Release, manual: Bool, work: String) async throws -> Started {
        let release = context.release
        let paths = release.paths
        let id = Identifiers.shortID(length: 10)
        try Files.ensureDirectory(stateDirectory, mode: 0o700)
        let backup = "\(stateDirectory)/catalog-\(id).sqlite"
        try await catalog.backup(to: backup)
        chmod(backup, 0o600)
        pruneCatalogBackups(keeping: backup)

        // The new binary goes to `branch.previous` first (same directory, so same filesystem),
        // then the two swap places in one step: a crash leaves one or the other installed.
        let staged = "\((paths.binary as NSString).deletingLastPathComponent)/.branch.new-\(id)"
        try await BlockingWork.run { try AtomicSwap.copy(newBinary, to: staged, mode: 0o755) }
        let runningSha = await release.digest() ?? ""
        if InstalledPaths.version(binary: paths.binary, manifest: paths.manifest, sha256: { _ in runningSha }) == nil {
            let own = ReleaseManifest(version: release.version, minimumCatalogVersion: 1, sha256: runningSha, builtAt: "")
            try Files.writeAtomically(String(decoding: own.encoded(), as: UTF8.self), to: paths.manifest, mode: 0o644)
        }
        try? FileManager.default.removeItem(atPath: paths.kept)
        try? FileManager.default.removeItem(atPath: paths.keptManifest)
        if Files.exists(paths.previous) { try AtomicSwap.link(paths.previous, as: paths.kept) }
        if Files.exists(paths.previousManifest) { try AtomicSwap.link(paths.previousManifest, as: paths.keptManifest) }
        try AtomicSwap.rename(staged, over: paths.previous)
        try Files.writeAtomically(manifest, to: paths.previousManifest, mode: 0o644)
        try AtomicSwap.exchange(paths.binary, paths.previous)
        try AtomicSwap.exchange(paths.manifest, paths.previousManifest)
        AtomicSwap.syncDirectory((paths.binary as NSString).deletingLastPathComponent)

        let restart = Self.restartMode()
        let state = UpgradeState(
            id: id, phase: .restarting, manual: manual,
            from: .init(version: release.version, sha256: runningSha, catalogVersion: Catalog.schemaVersion), to: target,
            binary: paths.binary, previousBinary: paths.previous, catalog: layout.catalog, catalogBackup: backup, restoreCatalog: true,
            healthURL: (release.localURL ?? "http://127.0.0.1:8420") + "/api/v1/health", healthTimeoutSeconds: Self.healthTimeoutSeconds,
            restart: .init(
                systemdUnit: { if case .systemd(let unit) = restart { unit } else { nil } }(), pid: getpid(),
                arguments: CommandLine.arguments, environment: ProcessInfo.processInfo.environment,
                directory: FileManager.default.currentDirectoryPath, logFile: Self.outputFile()),
            startedAt: Date(), reported: false)
        do {
            try state.save(statePath)
            // The watchdog runs the binary this process was started from (now `branch.previous`):
            // it is known to work, whatever the new one does.
            _ = try Command.launch(
                paths.previous, ["upgrade-watchdog", "--state", statePath], environment: Command.baseEnvironment,
                logFile: "\(stateDirectory)/watchdog.log")
        } catch {
            try? AtomicSwap.exchange(paths.binary, paths.previous)
            try? AtomicSwap.exchange(paths.manifest, paths.previousManifest)
            try? Files.remove(statePath)
            throw error
        }
        logger.notice("upgrade: binary swapped, restarting", metadata: ["from": "\(release.version)", "to": "\(target.version)", "id": "\(id)"])
        release.requestRestart(restart)
        let mode: String = if case .systemd(let unit) = restart { "systemd (\(unit))" } else { "re-exec" }
        return Started(from: release.version, to: target.version, manual: manual, restart: mode, healthTimeoutSeconds: Self.healthTimeoutSeconds)
    }

    /// Keeps the catalog backups of the last three upgrades.
    private func pruneCatalogBackups(keeping current: String) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: stateDirectory)) ?? []).filter { $0.hasPrefix("catalog-") && $0.hasSuffix(".sqlite") }
        let dated = names.map { "\(stateDirectory)/\($0)" }.filter { $0 != current }.sorted {
            ((try? FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date) ?? .distantPast)
                > ((try? FileManager.default.attributesOfItem(atPath: $1)[.modificationDate] as? Date) ?? .distantPast)
        }
        for old in dated.dropFirst(2) { try? FileManager.default.removeItem(atPath: old) }
    }

    /// systemd when the service runs as a systemd unit (it restarts it), else a re-exec.
    static func restartMode() -> ServiceRelease.Restart {
        guard ProcessInfo.processInfo.environment["INVOCATION_ID"] != nil, Command.which("systemctl") != nil,
            let cgroup = Files.read("/proc/self/cgroup")
        else { return .reexec }
        for line in cgroup.split(separator: "\n") {
            if let unit = line.split(separator: "/").last, unit.hasSuffix(".service") { return .systemd(unit: String(unit)) }
        }
        return .reexec
    }

    /// The file the service's output goes to, if it is one (a service the watchdog starts again writes there too).
    static func outputFile() -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/1"), target.hasPrefix("/"),
            !target.hasPrefix("/dev/")
        else { return nil }
        guard (try? FileManager.default.attributesOfItem(atPath: target))?[.type] as? FileAttributeType == .typeRegular else { return nil }
        return target
    }

    static func isRunning(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0, let stat = Files.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(close, offsetBy: 2)...].first != "Z"
    }
}
