public import BranchPostgres

/// Runs each branch's Postgres as a plain process owned by the `postgres` OS user: no isolation,
/// nothing to install beyond Postgres. The server is detached (pg_ctl), so it outlives a restart
/// of the service, which adopts it again from its pid file.
public struct ProcessRuntime: BranchServerRuntime {
    public let installation: PostgresInstallation

    public init(installation: PostgresInstallation) {
        self.installation = installation
    }

    public var name: String { "process" }

    public func start(_ spec: ServerSpec, timeout: Duration) async throws {
        try await server(spec).start(probe: spec.superuserConnection, timeout: timeout)
    }

    public func stop(_ spec: ServerSpec) async throws {
        try await server(spec).stop()
    }

    public func state(_ spec: ServerSpec) -> RunState {
        server(spec).runningPID().map { .running(pid: $0) } ?? .stopped
    }

    private func server(_ spec: ServerSpec) -> PostgresServer {
        PostgresServer(installation: installation, dataDirectory: spec.dataDirectory, logFile: spec.logFile)
    }
}
