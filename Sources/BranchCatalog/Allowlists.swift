package import BranchCore
import GRDB
import Synchronization

extension Catalog {
    /// The allowlist of the project named `project` (open when there is no such project), from
    /// memory while no catalog write has ended since it was read: the HTTP API and the data API
    /// ask on every request, so the usual answer is a dictionary lookup.
    package func allowlist(of project: String) async throws -> Allowlist {
        let generation = writeGeneration
        if let lists = allowlists.lists(ifCurrent: generation) { return lists[project] ?? Allowlist() }
        let rows = try await read { tx in
            try Row.fetchAll(tx.db, sql: "SELECT name, allowlist FROM project WHERE allowlist IS NOT NULL AND allowlist <> ''")
                .map { (name: $0["name"] as String, stored: $0["allowlist"] as String) }
        }
        var lists: [String: Allowlist] = [:]
        for row in rows { lists[row.name] = Allowlist(stored: row.stored) }
        allowlists.store(lists, generation: generation)
        return lists[project] ?? Allowlist()
    }
}

/// Every project's allowlist, as read at one catalog write generation. A lookup under a newer
/// generation reads them all again (one small query), so a list read just before a change
/// committed is never used after it.
final class AllowlistCache: Sendable {
    private struct State {
        var generation: UInt64?
        var lists: [String: Allowlist] = [:]
    }

    private let state = Mutex(State())

    func lists(ifCurrent generation: UInt64) -> [String: Allowlist]? {
        state.withLock { $0.generation == generation ? $0.lists : nil }
    }

    /// Keeps what was read with the generation looked up before reading: if a write ended since,
    /// the next lookup sees a newer generation and reads again.
    func store(_ lists: [String: Allowlist], generation: UInt64) {
        state.withLock { $0 = State(generation: generation, lists: lists) }
    }
}
