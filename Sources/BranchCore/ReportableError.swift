/// An error a user can act on: a stable machine-readable code, an HTTP status, a message and a hint.
///
/// Every module has one public error type that conforms; the server maps any `ReportableError`
/// to `{"error":{"code":…,"message":…,"hint":…}}` and the CLI prints message and hint.
/// `message` must never contain secrets (passwords, keys, connection strings with passwords).
public protocol ReportableError: Error, CustomStringConvertible {
    /// Stable, snake_case code. Never renamed once shipped.
    var code: String { get }
    /// HTTP status the API answers with.
    var httpStatus: Int { get }
    /// One sentence saying what went wrong.
    var message: String { get }
    /// What the user can do next, when there is something to do.
    var hint: String? { get }
}

extension ReportableError {
    public var description: String { hint.map { "\(message) (\($0))" } ?? message }
}
