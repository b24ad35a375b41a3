import BranchBackup
import BranchCatalog
import BranchPostgres
import BranchRuntime
import BranchStorage
import Logging

/// One feature of the engine (projects, branches, snapshots, …): a value over the shared
/// context. Parts reach each other through these accessors, so a use case reads top to bottom in
/// its own part and names the others it relies on.
protocol EnginePart: Sendable {
    var context: EngineContext { get }
}

extension EnginePart {
    var configuration: EngineConfiguration { context.configuration }
    var layout: PoolLayout { context.layout }
    var installation: PostgresInstallation { context.installation }
    var storage: PoolStorage { context.storage }
    var catalog: Catalog { context.catalog }
    var runtime: any BranchServerRuntime { context.runtime }
    var pooler: Pooler { context.pooler }
    var journal: Journal { context.journal }
    var logger: Logger { context.logger }

    // The other parts. (A local variable of the same name, a list of records, say, hides one:
    // write `self.branches` there.)
    var servers: BranchServers { BranchServers(context: context) }
    var frontDoor: FrontDoor { FrontDoor(context: context) }
    var lineages: Lineages { Lineages(context: context) }
    var presenter: Presenter { Presenter(context: context) }
    var projects: Projects { Projects(context: context) }
    var branches: Branches { Branches(context: context) }
    var snapshots: Snapshots { Snapshots(context: context) }
    var pointInTime: PointInTime { PointInTime(context: context) }
    var backups: Backups { Backups(context: context) }
}
