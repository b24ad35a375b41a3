package import BranchPostgres
import Synchronization

/// Schema snapshots of branch servers, kept until their schema changes. Reading one costs ten
/// catalog queries (about 8 ms of server time per side); a console's diff page reads both sides'
/// on every load, though a schema changes far less often than its rows.
///
/// A snapshot is found again by its stamp: the server's start time and the counter the data API's
/// event triggers bump on every DDL command (`_branch.schema_version`), both read in the diff's
/// own reading snapshot, so the stamp and the catalogs it stands for are of one instant. A
/// restore restarts the server (a new start time, even if the counter was the same before); a
/// DDL committed since bumps the counter. A database without the counter (one the data API never
/// bootstrapped) has no stamp and is read every time.
package final class SchemaSnapshotCache: Sendable {
    /// What names the schema a reading snapshot sees, as one SQL expression; NULL without the
    /// counter (a NULL in `||` makes the whole NULL), and it never fails the transaction.
    package static let stampSQL =
        "(pg_postmaster_start_time()::text || '#' || current_setting('search_path') || '#' || \(SchemaVersionCounter.guardedRead))"

    private struct Entry {
        var snapshot: SchemaSnapshot
        var used: UInt64
    }

    private let capacity: Int
    private let entries = Mutex<(items: [String: Entry], clock: UInt64)>(([:], 0))

    package init(capacity: Int = 64) {
        self.capacity = capacity
    }

    /// The snapshot of the database `connection` reads, taken from the cache when `server` (which
    /// server and session kind this is: a branch's session key and its start) and `stamp` match
    /// one read before, otherwise read and kept.
    package func snapshot(
        _ connection: PGConnection, server: String, stamp: String?, schemas: [String]?
    ) async throws(PostgresError) -> SchemaSnapshot {
        guard let stamp else { return try await SchemaIntrospector.snapshot(connection, schemas: schemas) }
        let key = [server, stamp, schemas?.joined(separator: ",") ?? "*"].joined(separator: "\u{1F}")
        if let cached = lookUp(key) { return cached }
        let snapshot = try await SchemaIntrospector.snapshot(connection, schemas: schemas)
        keep(snapshot, as: key)
        return snapshot
    }

    /// How many snapshots are kept (for tests).
    package var count: Int { entries.withLock { $0.items.count } }

    private func lookUp(_ key: String) -> SchemaSnapshot? {
        entries.withLock { state in
            guard var entry = state.items[key] else { return nil }
            state.clock += 1
            entry.used = state.clock
            state.items[key] = entry
            return entry.snapshot
        }
    }

    private func keep(_ snapshot: SchemaSnapshot, as key: String) {
        entries.withLock { state in
            state.clock += 1
            state.items[key] = Entry(snapshot: snapshot, used: state.clock)
            // The least recently used goes; a stamp never comes back once its schema changed.
            while state.items.count > capacity, let oldest = state.items.min(by: { $0.value.used < $1.value.used })?.key {
                state.items[oldest] = nil
            }
        }
    }
}
