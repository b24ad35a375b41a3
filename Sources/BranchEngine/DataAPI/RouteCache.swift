import BranchCatalog
import Synchronization

/// Which project and branch a data API address reaches, kept between requests while the catalog
/// has not changed (any write since the lookup makes the copy stale: a checkout, a suspension, a
/// restore), so a request reads the catalog only after something happened.
final class RouteCache: Sendable {
    struct Route: Sendable {
        var project: ProjectRecord
        var branch: BranchRecord
    }

    private let entries = Mutex<[String: (generation: UInt64, route: Route)]>([:])

    /// The route of `key` if it was read at `generation`.
    func route(_ key: String, generation: UInt64) -> Route? {
        entries.withLock { entries in
            guard let entry = entries[key], entry.generation == generation else { return nil }
            return entry.route
        }
    }

    /// Keeps a route read at `generation` (the catalog's write generation before the read).
    func store(_ route: Route, for key: String, generation: UInt64) {
        entries.withLock { entries in
            if entries.count >= 10_000 { entries.removeAll(keepingCapacity: true) }
            entries[key] = (generation, route)
        }
    }
}
