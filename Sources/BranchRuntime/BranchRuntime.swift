public import BranchCore
public import BranchPostgres

/// Resource limits of one branch server (a project's limits apply to all its branches).
public struct ResourceLimits: Sendable, Hashable, Codable {
    /// Memory in bytes (RAM; swap is not allowed on top).
    public var memory: UInt64?
    /// CPUs, fractional (1.5 = one and a half cores).
    public var cpus: Double?

    public init(memory: UInt64? = nil, cpus: Double? = nil) {
        self.memory = memory
        self.cpus = cpus
    }
}

/// Everything a runtime needs to run one branch's Postgres.
public struct ServerSpec: Sendable, Hashable {
    public let project: ResourceName
    public let branch: ResourceName
    /// The branch's subvolume (bind-mounted into a container) and its data directory inside.
    public let subvolume: String
    public let dataDirectory: String
    /// Directory for the server's logs; `startupLog` catches what is printed before the log collector starts.
    public let logDirectory: String
    public let port: Int
    public let socketDirectory: String
    public let limits: ResourceLimits
    /// Where the server archives its WAL, and where it reads archived WAL from during a
    /// point-in-time recovery; the scripts it runs for both are in `scriptDirectory`.
    public let walDirectory: String?
    public let restoreWalDirectory: String?
    public let scriptDirectory: String?

    public init(
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

    public var startupLog: String { "\(logDirectory)/startup.log" }

    /// How the service itself connects: as the superuser over the private socket.
    public var superuserConnection: ConnectionInfo {
        ConnectionInfo(host: socketDirectory, port: port, user: ClusterFiles.superuser, database: "postgres")
    }
}

/// The paths the server itself sees: the host's for a plain process, fixed ones inside a container.
public struct ServerPaths: Sendable, Hashable {
    public var dataDirectory: String
    public var socketDirectory: String
    public var logDirectory: String
    public var walDirectory: String?
    public var restoreWalDirectory: String?
    public var scriptDirectory: String?
}

/// Whether a branch's server is up.
public enum RunState: Sendable, Equatable {
    case running(pid: Int32)
    case stopped

    public var isRunning: Bool { if case .running = self { true } else { false } }
    /// The host pid of the postmaster, for metrics.
    public var pid: Int32? { if case .running(let pid) = self { pid } else { nil } }
}

/// What was found about the host's container support at start-up, for `branch status`.
public struct RuntimeReport: Sendable, Hashable, Codable {
    public var runtime: String
    /// `v1 (hybrid)`, `v1`, `v2` or `none`.
    public var cgroups: String
    public var limitsEnforced: Bool
    /// What was tried and what happened, one line each.
    public var notes: [String]
}

/// How branch servers are run: an OCI container (podman, docker) or a plain process.
public protocol BranchServerRuntime: Sendable {
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
