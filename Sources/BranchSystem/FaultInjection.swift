import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Named points in multi-step operations where tests can crash or slow down the service.
///
/// `BRANCH_CRASH_AT=<point>` kills the process with SIGKILL when it reaches the point, exactly as
/// `kill -9` would, to test the operations journal. `BRANCH_PAUSE_AT=<point>[:seconds]` holds the
/// operation there (default 3 s), to test what others see meanwhile. `BRANCH_CRASH_AT_FILE=<path>`
/// reads the crash point from that file whenever a point is reached (none while there is no
/// file), so a test arms a running service instead of restarting it. All unset in production: a
/// point is then three nil checks.
package enum FaultInjection {
    private static let crashTarget: String? = environment("BRANCH_CRASH_AT")
    private static let crashTargetFile: String? = environment("BRANCH_CRASH_AT_FILE")
    private static let pause: (point: String, seconds: Double)? = {
        guard let value = environment("BRANCH_PAUSE_AT") else { return nil }
        let parts = value.split(separator: ":")
        return (String(parts[0]), parts.count > 1 ? Double(parts[1]) ?? 3 : 3)
    }()

    /// Crashes or pauses here if this point was asked for.
    package static func point(_ name: String) async {
        if let crashTarget, crashTarget == name {
            kill(getpid(), SIGKILL)
        }
        // A read of a few bytes, in test runs only.
        if let crashTargetFile, Files.read(crashTargetFile)?.trimmingCharacters(in: .whitespacesAndNewlines) == name {
            kill(getpid(), SIGKILL)
        }
        if let pause, pause.point == name {
            try? await Task.sleep(for: .seconds(pause.seconds))
        }
    }

    private static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
