public import BranchCore
public import BranchPostgres

/// Everything a runtime needs to run one branch's Postgres.
public struct ServerSpec: Sendable, Hashable {
    public let project: ResourceName
    public let branch: ResourceName
    /// The data directory (inside the branch's subvolume).
    public let dataDirectory: String
    public let logFile: String
    public let port: Int
    public let socketDirectory: String

    public init(project: ResourceName, branch: ResourceName, dataDirectory: String, logFile: String, port: Int, socketDirectory: String) {
        self.project = project
        self.branch = branch
        self.dataDirectory = dataDirectory
        self.logFile = logFile
        self.port = port
        self.socketDirectory = socketDirectory
    }

    /// What `ps`/`podman ps` shows for this server.
    public var displayName: String { "branch-\(project)-\(branch)" }

    /// How the service itself connects: as the superuser over the private socket.
    public var superuserConnection: ConnectionInfo {
        ConnectionInfo(host: socketDirectory, port: port, user: ClusterFiles.superuser, database: "postgres")
    }
}

/// Whether a branch's server is up.
public enum RunState: Sendable, Equatable {
    case running(pid: Int32)
    case stopped

    public var isRunning: Bool { if case .running = self { true } else { false } }
}

/// How branch servers are run: a plain process now; containers are a later runtime.
public protocol BranchServerRuntime: Sendable {
    /// Short name shown in `branch status` and the API (`process`, `podman`, `docker`).
    var name: String { get }
    /// Starts the server and returns once it accepts connections.
    func start(_ spec: ServerSpec, timeout: Duration) async throws
    /// Stops it cleanly; no error when it is not running.
    func stop(_ spec: ServerSpec) async throws
    /// Whether it is running now.
    func state(_ spec: ServerSpec) -> RunState
}
