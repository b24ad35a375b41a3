package import BranchCore
package import BranchPostgres

/// Resource limits of one branch server (a project's limits apply to all its branches).
package struct ResourceLimits: Sendable, Hashable, Codable {
    /// Memory in bytes (RAM; swap is not allowed on top).
    package var memory: UInt64?
    /// CPUs, fractional (1.5 = one and a half cores).
    package var cpus: Double?

    package init(memory: UInt64? = nil, cpus: Double? = nil) {
        self.memory = memory
        self.cpus = cpus
    }
}

/// Everything a runtime needs to run one branch's Postgres.
package struct ServerSpec: Sendable, Hashable {
    package let project: ResourceName
    package let branch: ResourceName
    /// The branch's subvolume (bind-mounted into a container) and its data directory inside.
    package let subvolume: String
    package let dataDirectory: String
    /// Directory for the server's logs; `startupLog` catches what is printed before the log collector starts.
    package let logDirectory: String
    package let port: Int
    package let socketDirectory: String
    package let limits: ResourceLimits
    /// Where the server archives its WAL, and where it reads archived WAL from during a
    /// point-in-time recovery; the scripts it runs for both are in `scriptDirectory`.
    package let walDirectory: String?
    package let restoreWalDirectory: String?
    package let scriptDirectory: String?

    package init(
        project: ResourceName, branch: ResourceName, subvolume: String, dataDirectory: String, logDirectory: String, port: Int,
        socketDirectory: String, limits: ResourceLimits = ResourceLimits(), walDirectory: String? = nil,
        restoreWalDirectory: String? = nil, scriptDirectory: String? = nil
    ) {
        self.project = project
        self.branch = branch
        self.subvolume = subvolume
        self.dataDirectory = dataDirectory
        self.logDirectory = logDirectory
        self.port = port
        self.socketDirectory = socketDirectory
        self.limits = limits
        self.walDirectory = walDirectory
        self.restoreWalDirectory = restoreWalDirectory
        self.scriptDirectory = scriptDirectory
    }

    package var startupLog: String { "\(logDirectory)/startup.log" }

    /// How the service itself connects: as the superuser over the private socket.
    package var superuserConnection: ConnectionInfo {
        ConnectionInfo(host: socketDirectory, port: port, user: ClusterFiles.superuser, database: "postgres")
    }
}

/// The paths the server itself sees: the host's for a plain process, fixed ones inside a container.
package struct ServerPaths: Sendable, Hashable {
    package var dataDirectory: String
    package var socketDirectory: String
    package var logDirectory: String
    package var walDirectory: String?
    package var restoreWalDirectory: String?
    package var scriptDirectory: String?
}

/// Whether a branch's server is up.
package enum RunState: Sendable, Equatable {
    case running(pid: Int32)
    case stopped

    package var isRunning: Bool { if case .running = self { true } else { false } }
    /// The host pid of the postmaster, for metrics.
    package var pid: Int32? { if case .running(let pid) = self { pid } else { nil } }
}

/// What was found about the host's container support at start-up, for `branch status`.
package struct RuntimeReport: Sendable, Hashable, Codable {
    package var runtime: String
    /// `v1 (hybrid)`, `v1`, `v2` or `none`.
    package var cgroups: String
    package var limitsEnforced: Bool
    /// What was tried and what happened, one line each.
    package var notes: [String]
}

/// How branch servers are run: an OCI container (podman, docker) or a plain process.
package protocol BranchServerRuntime: Sendable {
    /// Short name shown in `branch status` and the API (`podman`, `docker`, `process`).
    var name: String { get }
    var report: RuntimeReport { get }
    /// Starts the server and returns once it accepts connections.
    func start(_ spec: ServerSpec, timeout: Duration) async throws
    /// Stops it cleanly; no error when it is not running.
    func stop(_ spec: ServerSpec) async throws
    /// Whether it is running now (cheap: no subprocess).
    func state(_ spec: ServerSpec) -> RunState
    /// Applies new limits to a running server without restarting it, where the runtime can.
    func update(_ spec: ServerSpec) async throws
    /// Learns about servers left running by a previous service process.
    func adoptRunning() async
    /// The name `ps`/`podman ps` shows for this server.
    func displayName(_ spec: ServerSpec) -> String
    /// CPU, memory and IO of the running server, when it can be measured.
    func usage(_ spec: ServerSpec) -> ResourceUsage?
    /// Where the server sees its data, sockets and logs (what its configuration must name).
    func serverPaths(_ spec: ServerSpec) -> ServerPaths
}
