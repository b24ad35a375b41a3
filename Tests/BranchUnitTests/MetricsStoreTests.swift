@testable import BranchEngine
import Foundation
import Testing

/// The metrics store turns a server's cumulative counters into per-interval rates.
@Suite("Metrics: rates from cumulative counters")
struct MetricsStoreTests {
    let key = MetricsStore.Key(project: "app", branch: "main")
    let start = ContinuousClock.now

    func statistics(inserted: Double, updated: Double = 0, deleted: Double = 0, deadlocks: Double = 0, wal: Double) -> ServerStatistics {
        ServerStatistics(
            connections: 3, remoteClients: 1, databaseBytes: 8 << 20, activeConnections: 1, idleConnections: 2, maxConnections: 100,
            rowsInserted: inserted, rowsUpdated: updated, rowsDeleted: deleted, deadlocks: deadlocks, walBytes: wal)
    }

    @Test("rows, deadlocks and WAL are rates (or counts) over the interval; the first sample and a counter that went back have none")
    func rates() async throws {
        let store = MetricsStore(capacity: 10)
        await store.record(key, at: Date(), status: .running, usage: nil, statistics: statistics(inserted: 1000, wal: 1_048_576),
                           exclusiveBytes: nil, restarts: 0, now: start)
        await store.record(key, at: Date(), status: .running, usage: nil,
                           statistics: statistics(inserted: 6000, updated: 500, deleted: 100, deadlocks: 2, wal: 6_291_456),
                           exclusiveBytes: 4096, restarts: 0, now: start + .seconds(5))
        // Reset statistics start the row counters again (the WAL position only grows).
        await store.record(key, at: Date(), status: .running, usage: nil, statistics: statistics(inserted: 10, deadlocks: 2, wal: 6_291_456),
                           exclusiveBytes: 4096, restarts: 1, now: start + .seconds(10))
        let samples = try #require(await store.query(project: "app", branch: "main", since: .distantPast).first).samples
        #expect(samples.count == 3)
        #expect(samples[0].rowsInsertedPerSecond == nil && samples[0].walBytesPerSecond == nil && samples[0].maxConnections == 100)
        #expect(samples[1].rowsInsertedPerSecond == 1000 && samples[1].rowsUpdatedPerSecond == 100 && samples[1].rowsDeletedPerSecond == 20)
        #expect(samples[1].deadlocks == 2 && samples[1].walBytesPerSecond == 1_048_576)
        #expect(samples[1].activeConnections == 1 && samples[1].idleConnections == 2 && samples[1].connections == 3)
        #expect(samples[2].rowsInsertedPerSecond == nil && samples[2].walBytesPerSecond == 0 && samples[2].deadlocks == 0)
    }

    @Test("a stopped server's sample has no statistics, and the next running one starts afresh")
    func stopped() async throws {
        let store = MetricsStore(capacity: 10)
        await store.record(key, at: Date(), status: .running, usage: nil, statistics: statistics(inserted: 1, wal: 1), exclusiveBytes: nil, restarts: 0, now: start)
        await store.record(key, at: Date(), status: .stopped, usage: nil, statistics: nil, exclusiveBytes: nil, restarts: 0, now: start + .seconds(5))
        await store.record(key, at: Date(), status: .running, usage: nil, statistics: statistics(inserted: 9, wal: 9), exclusiveBytes: nil, restarts: 0,
                           now: start + .seconds(10))
        let samples = try #require(await store.query(project: "app", branch: "main", since: .distantPast).first).samples
        #expect(samples[1].connections == nil && samples[1].rowsInsertedPerSecond == nil)
        #expect(samples[2].rowsInsertedPerSecond == nil, "no rate across a stop")
    }

    @Test("a renamed branch's charts go on under its new name; a branch gone since the round began is dropped")
    func renamedAndGone() async throws {
        let store = MetricsStore(capacity: 10)
        let feat = MetricsStore.Key(project: "app", branch: "feat")
        await store.record(feat, at: Date(), status: .running, usage: nil, statistics: statistics(inserted: 1, wal: 1), exclusiveBytes: nil, restarts: 0, now: start)
        await store.record(key, at: Date(), status: .running, usage: nil, statistics: statistics(inserted: 1, wal: 1), exclusiveBytes: nil, restarts: 0, now: start)
        await store.rename(project: "app", branch: "feat", to: "feature")
        #expect(await store.query(project: "app", branch: "feat", since: .distantPast).isEmpty)
        #expect(await store.query(project: "app", branch: "feature", since: .distantPast).first?.samples.count == 1)
        // A round that read the catalog before the rename writes one more sample under the old name.
        await store.record(feat, at: Date(), status: .stopped, usage: nil, statistics: nil, exclusiveBytes: nil, restarts: 0, now: start + .seconds(5))
        await store.retain([key, MetricsStore.Key(project: "app", branch: "feature")])
        #expect(await store.query(project: "app", branch: nil, since: .distantPast).map(\.branch) == ["feature", "main"])
    }
}
