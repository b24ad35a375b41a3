#if canImport(Glibc)
import Glibc
#endif

/// Named crash points for testing the operations journal.
///
/// When the environment variable `BRANCH_CRASH_AT` names a point, the process kills itself
/// with SIGKILL the moment it reaches it, exactly as `kill -9` would. In production the variable
/// is unset and `point(_:)` is a dictionary-free string comparison.
public enum FaultInjection {
    private static let target: String? = {
        guard let value = getenv("BRANCH_CRASH_AT") else { return nil }
        return String(cString: value)
    }()

    /// Crashes here if this point was asked for.
    public static func point(_ name: String) {
        if let target, target == name {
            kill(getpid(), SIGKILL)
        }
    }
}
