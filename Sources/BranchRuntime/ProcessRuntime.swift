import BranchCore
package import BranchPostgres

/// Runs each branch's Postgres as a plain process owned by the `postgres` OS user: no isolation
/// and no limits, nothing to install beyond Postgres. The server is detached (pg_ctl), so it
/// outlives a restart of the service, which adopts it again from its pid file.
package struct ProcessRuntime: BranchServerRuntime {
    package let installation: PostgresInstallation
    package let report: RuntimeReport

    package init(installation: PostgresInstallation, notes: [String] = []) {
        self.installation = installation
        self.report = RuntimeReport(runtime: "process", cgroups: CgroupInfo.version, limitsEnforced: false, notes: notes)
    }

    package var name: String { "process" }

    package func start(_ spec: ServerSpec, timeout: Duration) async throws {
        try await server(spec).start(probe: spec.superuserConnection, timeout: timeout)
    }

    package func stop(_ spec: ServerSpec) async throws {
        try await server(spec).stop()
    }

    package func state(_ spec: ServerSpec) -> RunState {
        server(spec).runningPID().map { .running(pid: $0) } ?? .stopped
    }

    package func update(_ spec: ServerSpec) async throws {}

    package func adoptRunning() async {}

    package func displayName(_ spec: ServerSpec) -> String { "\(spec.project)/\(spec.branch)" }

    package func serverPaths(_ spec: ServerSpec) -> ServerPaths {
        ServerPaths(
            dataDirectory: spec.dataDirectory, socketDirectory: spec.socketDirectory, logDirectory: spec.logDirectory,
            walDirectory: spec.walDirectory, restoreWalDirectory: spec.restoreWalDirectory, scriptDirectory: spec.scriptDirectory)
    }

    package func usage(_ spec: ServerSpec) -> ResourceUsage? {
        state(spec).pid.flatMap { CgroupInfo.usage(ofProcessTree: $0) }
    }

    private func server(_ spec: ServerSpec) -> PostgresServer {
        PostgresServer(installation: installation, dataDirectory: spec.dataDirectory, logFile: spec.startupLog)
    }
}
