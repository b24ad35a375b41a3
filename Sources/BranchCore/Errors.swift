/// What kind of failure an error is, independent of any protocol: the server maps each category
/// to an HTTP status in one place, the CLI to its exit status.
package enum ErrorCategory: String, Sendable, CaseIterable {
    /// The request itself is wrong: a bad name, a malformed value, contradictory fields.
    case invalidInput
    /// No credentials, or wrong ones.
    case unauthorized
    /// Something named in the request does not exist.
    case notFound
    /// The request is valid but the state of things does not allow it now.
    case conflict
    /// A body or a value larger than allowed.
    case tooLarge
    /// Well-formed data that does not check out (a tampered backup, a wrong key, a bad patch).
    case unprocessable
    /// A service Branch depends on (a backup target) refused or failed.
    case upstreamFailed
    /// A resource is temporarily not usable (a server not started, no free port); retry later.
    case unavailable
    /// The pool has no room left.
    case insufficientStorage
    /// It did not finish within its time limit.
    case timeout
    /// Whoever asked for it went away.
    case cancelled
    /// Something went wrong inside the service.
    case `internal`
}

/// An error a user can act on: a stable code (its category comes with it), a message and a hint.
///
/// Every module has one public error type that conforms. `message` and `hint` never contain
/// secrets (passwords, keys, connection strings with passwords).
package protocol ReportableError: Error, CustomStringConvertible {
    var code: ErrorCode { get }
    /// One sentence saying what went wrong.
    var message: String { get }
    /// What the user can do next, when there is something to do.
    var hint: String? { get }
}

extension ReportableError {
    package var category: ErrorCategory { code.category }
    package var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
