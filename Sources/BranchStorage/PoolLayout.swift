package import BranchCore

/// Where everything lives inside a pool. The one place pool paths are spelled out.
///
/// ```
/// <pool>/catalog.sqlite   admin.key   catalog.reserve (space kept back for the catalog)
/// <pool>/templates/pg<major>/pgdata              warm template, read-only subvolume
/// <pool>/projects/<project>/branches/<branch>/   writable subvolume, pgdata/ inside
/// <pool>/projects/<project>/snapshots/<id>/      read-only subvolume
/// <pool>/projects/<project>/wal/<lineage>/       archived WAL, one directory per lineage
/// <pool>/work/<operation>-*                      subvolumes of operations in flight
/// <pool>/run/pg/<port>  run/pgbouncer            sockets, pooler configuration, pid files
/// <pool>/logs/<project>/<branch>/                server logs (outside the subvolumes, so not cloned)
/// ```
package struct PoolLayout: Sendable, Hashable {
    package let root: String

    package init(root: String) {
        var trimmed = root
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
    }

    package var catalog: String { "\(root)/catalog.sqlite" }
    /// Preallocated space the catalog gets back when the pool is completely full (see `EmergencyReserve`).
    package var catalogReserve: String { "\(root)/catalog.reserve" }
    package var adminKey: String { "\(root)/admin.key" }
    /// The instance admin's first login (email, password), written once by the start that made the admin.
    package var adminPassword: String { "\(root)/admin.password" }
    /// Present while the service holds the branch port range in the kernel's reserved ports.
    package var reservedPortsMarker: String { "\(root)/reserved-ports" }
    package var templates: String { "\(root)/templates" }
    package func template(major: Int) -> String { "\(templates)/pg\(major)" }
    package var projects: String { "\(root)/projects" }
    package func project(_ project: ResourceName) -> String { "\(projects)/\(project)" }
    package func branches(_ project: ResourceName) -> String { "\(self.project(project))/branches" }
    package func branch(_ project: ResourceName, _ branch: ResourceName) -> String { "\(branches(project))/\(branch)" }
    package func snapshots(_ project: ResourceName) -> String { "\(self.project(project))/snapshots" }
    package func snapshot(_ project: ResourceName, _ id: String) -> String { "\(snapshots(project))/\(id)" }
    package func wal(_ project: ResourceName) -> String { "\(self.project(project))/wal" }
    /// The archived WAL of one lineage (zstd-compressed segments and timeline history files).
    package func wal(_ project: ResourceName, lineage: String) -> String { "\(wal(project))/\(lineage)" }
    /// Scripts Postgres runs itself (archive_command, restore_command).
    package var scripts: String { "\(run)/bin" }
    /// In-flight subvolumes of operations; anything here at start-up is debris of a crash.
    package var work: String { "\(root)/work" }
    package func work(_ operation: String, _ suffix: String) -> String { "\(work)/\(operation)-\(suffix)" }
    package var run: String { "\(root)/run" }
    package var socketDirectories: String { "\(run)/pg" }
    /// One branch server's Unix socket directory, named after its port (short enough for a
    /// socket path, and only this one is mounted into the branch's container).
    package func socketDirectory(port: Int) -> String { "\(socketDirectories)/\(port)" }
    package var poolerDirectory: String { "\(run)/pgbouncer" }
    package var logs: String { "\(root)/logs" }
    /// Logs of template builds (`_` cannot start a project name, so no project collides).
    package var templateLogs: String { "\(logs)/_templates" }
    package func logs(_ project: ResourceName) -> String { "\(logs)/\(project)" }
    /// A branch server's logs: rotated `postgresql-*.log` files and `startup.log`.
    package func logDirectory(_ project: ResourceName, _ branch: ResourceName) -> String { "\(logs(project))/\(branch)" }

    /// The data directory inside a branch, snapshot or template subvolume.
    package static func dataDirectory(in subvolume: String) -> String { "\(subvolume)/pgdata" }
}
