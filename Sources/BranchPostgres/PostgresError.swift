package import BranchCore
import BranchSystem

/// A failure talking to, starting or preparing a Postgres server.
package struct PostgresError: ReportableError {
    package let kind: ErrorCode
    package let detail: String
    /// SQLSTATE of a failed query, when Postgres sent one.
    package let sqlState: String?
    /// The server's own fields of a failed query (primary message, DETAIL, HINT), for clients that
    /// show them apart, as the data API does.
    package let server: ServerFields?

    package struct ServerFields: Sendable, Equatable {
        package var message: String
        package var detail: String?
        package var hint: String?

        package init(message: String, detail: String? = nil, hint: String? = nil) {
            self.message = message
            self.detail = detail
            self.hint = hint
        }
    }

    package init(_ kind: ErrorCode, _ detail: String, sqlState: String? = nil, server: ServerFields? = nil) {
        self.kind = kind
        self.detail = detail
        self.sqlState = sqlState
        self.server = server
    }

    /// The error for a server that could not start because something else holds its port, or
    /// nil when the port is free (or the server itself is up on it).
    package static func portTaken(_ port: Int, running: Bool) -> PostgresError? {
        guard !running, !PortProbe.isFree(port) else { return nil }
        return PostgresError(.postgresPortTaken, "Postgres could not listen on port \(port): another program holds it.")
    }

    package var code: ErrorCode { kind }
    package var message: String { detail }
    package var hint: String? {
        switch kind {
        case .postgresNotInstalled: "Install the Debian package 'postgresql' (scripts/install-deps.sh does), or pass --pg-bindir."
        case .postgresStartFailed: "See the server's log in <pool>/logs/<project>/<branch>.log."
        case .postgresPortTaken: "The branch starts once the port is free again; `ss -tanp` shows who holds it."
        case .postgresQueryCancelled: "Whoever waited for it went away (for example, the HTTP client hung up); nothing to do."
        case .postgresQueryTimeout: "The statement took longer than its time limit; try again, or with a smaller scope."
        default: nil
        }
    }
}
