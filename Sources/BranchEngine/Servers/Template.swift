import BranchAuth
import BranchCatalog
import BranchCore
import BranchSystem
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// The warm template of the running Postgres major: an initdb'd, configured, read-only
/// subvolume every new project is a snapshot of, so no initdb runs on the hot path.
struct Template: EnginePart {
    let context: EngineContext

    /// A file in the template naming what its database holds beyond initdb's; a template whose
    /// marker differs is rebuilt.
    static let contentsMarker = "branch-template"
    static var contents: String { "data-api \(DataAPIBootstrap.version)\n" }

    /// Makes sure the template exists: built in the work area, moved into place in one rename (so
    /// a crash never leaves half a template), then made read-only.
    func ensure() async throws {
        try await context.locks.withLock("template") { try await buildIfMissing() }
    }

    private func buildIfMissing() async throws {
        let path = layout.template(major: installation.major)
        let marker = "\(path)/\(Self.contentsMarker)"
        if storage.isSubvolume(path) && Files.exists("\(PoolLayout.dataDirectory(in: path))/PG_VERSION") {
            // A crash between the move and the flag leaves it writable; finish the job.
            if try await !storage.isReadOnly(path) { try await storage.setReadOnly(path, true) }
            // A template from an older version lacks what new projects now start with: rebuild it.
            if Files.read(marker) == Self.contents { return }
            logger.info("rebuilding the template", metadata: ["reason": "made by an older version"])
            try await storage.setReadOnly(path, false)
        }
        try await diskUsage.requireSpaceToGrow()
        let watch = Stopwatch()
        let work = layout.work("template", "pg\(installation.major)")
        try await storage.deleteSubvolume(at: work)
        try await storage.deleteSubvolume(at: path)
        try await storage.createSubvolume(at: work)
        let cache = TemplateCache(environment: configuration.environment, postgresVersion: installation.version, contents: Self.contents)
        var source = "built"
        do {
            if let cache, await cache.restore(into: work) {
                source = "copied from the test run's cache"
            } else {
                try await build(in: work)
                await cache?.store(from: work)
            }
            try await storage.sync()
            // A read-only subvolume cannot be moved (its parent link is inside it): move, then freeze.
            try await storage.move(work, to: path)
            try await storage.setReadOnly(path, true)
        } catch {
            try? await storage.deleteSubvolume(at: work)
            throw error
        }
        logger.info("template ready", metadata: ["major": "\(installation.major)", "ms": "\(watch.milliseconds)", "source": "\(source)"])
    }

    /// initdb, a start to set the template database up for the data API, a clean stop, the marker.
    private func build(in work: String) async throws {
        let logDirectory = layout.templateLogs
        try Files.ensureDirectory(logDirectory, mode: 0o700, owner: ClusterFiles.superuser)
        let port = try await context.allocatePort()
        try Files.ensureDirectory(layout.socketDirectory(port: port), mode: 0o700, owner: ClusterFiles.superuser)
        try await TemplateBuilder.build(
            dataDirectory: PoolLayout.dataDirectory(in: work), installation: installation,
            socketDirectory: layout.socketDirectory(port: port), port: port,
            logFile: "\(logDirectory)/pg\(installation.major).log",
            databaseSetup: DataAPIBootstrap.sql(databaseOwner: ClusterFiles.templateRole))
        try Files.writeAtomically(Self.contents, to: "\(work)/\(Self.contentsMarker)", mode: 0o644)
    }
}
