import BranchCore
import BranchSystem
import Foundation
import Synchronization

/// Which release this service runs (from `/proc/self/exe` and the manifest beside it), where its
/// API answers, and whether it is about to restart for an upgrade (then the shutdown leaves branch
/// servers and the pooler running for the next start to adopt).
final class ServiceRelease: Sendable {
    enum Restart: Sendable, Equatable {
        case reexec
        case systemd(unit: String)
    }

    private struct State {
        var paths = InstalledPaths.ofRunningProcess()
        var version = Engine.version
        var sha256: String?
        var localURL: String?
        var restart: Restart?
        var busy = false
        /// The Postgres version `branch upgrade postgres` last restarted running servers on.
        var postgresVersion: String?
    }

    private let state = Mutex(State())
    private let requests: AsyncStream<Restart>
    private let submit: AsyncStream<Restart>.Continuation

    init() { (requests, submit) = AsyncStream.makeStream() }

    /// Reads the running binary's identity (run off the cooperative threads). Its SHA-256 is read
    /// now only when a release manifest lies beside it, whose version counts only if the two
    /// match; else on first use (`digest()`): hashing a 200 MB binary took 1 to 3 s of every start.
    func identify() {
        let paths = InstalledPaths.ofRunningProcess()
        var digest: String?
        let version = InstalledPaths.version(binary: paths.binary, manifest: paths.manifest) { _ in
            digest = FileDigest.sha256(Self.runningImage)
            return digest
        } ?? Engine.version
        state.withLock { ($0.paths, $0.sha256, $0.version) = (paths, digest, version) }
    }

    /// The running binary's SHA-256, hashed off the cooperative threads on first use.
    func digest() async -> String? {
        if let known = state.withLock({ $0.sha256 }) { return known }
        let digest = (try? await BlockingWork.run { FileDigest.sha256(Self.runningImage) }) ?? nil
        state.withLock { $0.sha256 = digest }
        return digest
    }

    /// The image this process runs, even after an upgrade has put another file at its path.
    private static let runningImage = "/proc/self/exe"

    var paths: InstalledPaths { state.withLock { $0.paths } }
    var version: String { state.withLock { $0.version } }
    var localURL: String? {
        get { state.withLock { $0.localURL } }
        set { state.withLock { $0.localURL = newValue } }
    }
    var pendingRestart: Restart? { state.withLock { $0.restart } }
    var postgresVersion: String? {
        get { state.withLock { $0.postgresVersion } }
        set { state.withLock { $0.postgresVersion = newValue } }
    }

    /// Claims the one upgrade that may run at a time.
    func claim() -> Bool {
        state.withLock { state in
            guard !state.busy, state.restart == nil else { return false }
            state.busy = true
            return true
        }
    }

    func release() { state.withLock { $0.busy = false } }

    /// Asks for the restart; `UpgradeService` carries it out once the answer is on its way.
    func requestRestart(_ restart: Restart) {
        state.withLock { $0.restart = restart }
        submit.yield(restart)
    }

    var restartRequests: AsyncStream<Restart> { requests }
}
