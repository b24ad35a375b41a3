public import BranchCore
public import BranchSystem

/// A failure talking to, starting or preparing a Postgres server.
public struct PostgresError: ReportableError {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public static let connectionFailed = Code(rawValue: "postgres_connection_failed")
        public static let queryFailed = Code(rawValue: "postgres_query_failed")
        public static let startFailed = Code(rawValue: "postgres_start_failed")
        public static let portTaken = Code(rawValue: "postgres_port_taken")
        public static let stopFailed = Code(rawValue: "postgres_stop_failed")
        public static let notInstalled = Code(rawValue: "postgres_not_installed")
        public static let templateFailed = Code(rawValue: "postgres_template_failed")
        public var description: String { rawValue }
    }

    public let kind: Code
    public let detail: String
    /// SQLSTATE of a failed query, when Postgres sent one.
    public let sqlState: String?

    public init(_ kind: Code, _ detail: String, sqlState: String? = nil) {
        self.kind = kind
        self.detail = detail
        self.sqlState = sqlState
    }

    /// The error for a server that could not start because something else holds its port, or
    /// nil when the port is free (or the server itself is up on it).
    public static func portTaken(_ port: Int, running: Bool) -> PostgresError? {
        guard !running, !PortProbe.isFree(port) else { return nil }
        return PostgresError(.portTaken, "Postgres could not listen on port \(port): another program holds it.")
    }

    public var code: String { kind.rawValue }
    public var httpStatus: Int {
        switch kind {
        case .connectionFailed, .startFailed, .portTaken: 503
        default: 500
        }
    }
    public var message: String { detail }
    public var hint: String? {
        switch kind {
        case .notInstalled: "Install the Debian package 'postgresql' (scripts/install-deps.sh does), or pass --pg-bindir."
        case .startFailed: "See the server's log in <pool>/logs/<project>/<branch>.log."
        case .portTaken: "The branch starts once the port is free again; `ss -tanp` shows who holds it."
        default: nil
        }
    }
}
