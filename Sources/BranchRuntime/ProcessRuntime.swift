import BranchCore
public import BranchPostgres

/// Runs each branch's Postgres as a plain process owned by the `postgres` OS user: no isolation
/// and no limits, nothing to install beyond Postgres. The server is detached (pg_ctl), so it
/// outlives a restart of the service, which adopts it again from its pid file.
public struct ProcessRuntime: BranchServerRuntime {
    public let installation: PostgresInstallation
    public let report: RuntimeReport

    public init(installation: PostgresInstallation, notes: [String] = []) {
        self.installation = installation
        self.report = RuntimeReport(runtime: "process", cgroups: CgroupInfo.version, limitsEnforced: false, notes: notes)
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

    public func update(_ spec: ServerSpec) async throws {}

    public func adoptRunning() async {}

    public func displayName(_ spec: ServerSpec) -> String { "\(spec.project)/\(spec.branch)" }

    public func serverPaths(_ spec: ServerSpec) -> ServerPaths {
        ServerPaths(
            dataDirectory: spec.dataDirectory, socketDirectory: spec.socketDirectory, logDirectory: spec.logDirectory,
            walDirectory: spec.walDirectory, restoreWalDirectory: spec.restoreWalDirectory, scriptDirectory: spec.scriptDirectory)
    }

    public func usage(_ spec: ServerSpec) -> ResourceUsage? {
        state(spec).pid.flatMap { CgroupInfo.usage(ofProcessTree: $0) }
    }

    private func server(_ spec: ServerSpec) -> PostgresServer {
        PostgresServer(installation: installation, dataDirectory: spec.dataDirectory, logFile: spec.startupLog)
    }
}
