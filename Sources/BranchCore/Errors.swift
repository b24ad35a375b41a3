/// What kind of failure an error is, independent of any protocol: the server maps each category
/// to an HTTP status in one place, the CLI to its exit status.
package enum ErrorCategory: String, Sendable, CaseIterable {
    /// The request itself is wrong: a bad name, a malformed value, contradictory fields.
    case invalidInput
    /// No credentials, or wrong ones.
    case unauthorized
    /// Valid credentials that do not allow this (a viewer changing something, another project).
    case forbidden
    /// Something named in the request does not exist.
    case notFound
    /// The request is valid but the state of things does not allow it now.
    case conflict
    /// A body or a value larger than allowed.
    case tooLarge
    /// Too many attempts (failed sign-ins): wait, then try again.
    case rateLimited
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
    /// The client sent its request too slowly (a header that takes longer than allowed).
    case requestTimeout
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

/// Where a statement of submitted SQL failed, with Postgres' own fields: what admin SQL and
/// migrations report so an agent can find and fix the statement.
package struct StatementFailure: Sendable, Equatable {
    package var sqlState: String?
    package var detail: String?
    /// 1-based character position of the error in the submitted text.
    package var position: Int?
    /// 1-based line of the error (or of the failing statement) in the submitted text.
    package var line: Int?
    /// 0-based index of the failing statement.
    package var statementIndex: Int?
    /// The failing statement's text, cut to 1,000 characters.
    package var statement: String?

    package init(
        sqlState: String? = nil, detail: String? = nil, position: Int? = nil, line: Int? = nil, statementIndex: Int? = nil,
        statement: String? = nil
    ) {
        self.sqlState = sqlState
        self.detail = detail
        self.position = position
        self.line = line
        self.statementIndex = statementIndex
        self.statement = statement.map { $0.count > 1000 ? String($0.prefix(1000)) + "…" : $0 }
    }
}

/// An error about a statement of submitted SQL: its body carries the `StatementFailure` fields.
package protocol StatementFailureError: ReportableError {
    var failure: StatementFailure { get }
}
