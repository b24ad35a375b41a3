import BranchCore
import BranchSystem
package import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    package var upgrades: Upgrades { Upgrades(context: context) }

    /// The release this service runs: its installed manifest's version, else the build's.
    package var version: String { context.release.version }

    /// Where this service's API answers on this machine (for the upgrade watchdog's health check).
    package func announce(localURL: String) { context.release.localURL = localURL }

    /// Whether the service is stopping to restart into a new binary (branch servers and the
    /// pooler then keep running, for the next start to adopt).
    package var restartingForUpgrade: Bool { context.release.pendingRestart != nil }

    /// After the service group has shut down for an upgrade's re-exec: replaces this process with
    /// the installed binary, same pid and arguments. Returns only when there is nothing to do or
    /// the exec failed (the watchdog then rolls back).
    package func execIfRestarting() {
        guard context.release.pendingRestart == .reexec else { return }
        let binary = context.release.paths.binary
        // Nothing of this process but stdin/stdout/stderr is handed to the new one.
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let fd = Int32(entry), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        let arguments = [binary] + CommandLine.arguments.dropFirst()
        context.logger.notice("upgrade: re-executing \(binary)")
        var pointers = arguments.map { strdup($0) } + [nil]
        execv(binary, &pointers)
        context.logger.error("upgrade: could not re-execute \(binary): \(String(cString: strerror(errno)))")
    }
}
