import BranchCatalog
import BranchCore
import BranchStorage
import Foundation
import Logging
import ServiceLifecycle

/// When to pre-pay a branch's next snapshot, as a pure decision (no I/O).
///
/// A Btrfs snapshot must first write the subvolume's dirty data, and branch creation runs a
/// CHECKPOINT before it: right after a bulk load both pay for everything the load wrote (2.8 s for
/// the first branch after 1 GB, 0.3 s for the next). Two flushes pre-pay that debt:
/// - while a branch writes, a **sync** of the pool every `syncEvery` bytes of WAL: the kernel writes
///   the load's dirty pages as they come instead of holding gigabytes until the next fsync. A sync
///   creates no checkpoint, so it adds no full-page images to the WAL however often it runs;
/// - once a branch's writes stop, a **checkpoint** (CHECKPOINT, then a sync) when it has written
///   `checkpointFrom` bytes since its last checkpoint began (`pg_current_wal_lsn() - redo_lsn`,
///   which Postgres's own checkpoints and branch creations reset too), so the next snapshot's
///   CHECKPOINT finds nothing to do.
/// One flush at a time: the checkpoint of the quiet branch with the largest debt first, else a
/// sync; a sync covers every branch (it flushes the whole pool).
///
/// While a branch writes fast (`busyGrowth` of WAL between two readings: a bulk load), it is read
/// five times as often, in rounds of the busy branches alone: a load's syncs then keep pace with
/// it, and what a branch taken right after the load must still flush is a fraction of a second of
/// writes rather than a whole interval's. Only complete rounds (every branch) may find a branch
/// quiet or forget one.
struct PrePayPolicy: Sendable {
    /// One running branch's WAL, in bytes.
    struct Reading: Sendable, Equatable {
        var key: String
        /// `pg_current_wal_lsn()` as a byte offset.
        var position: UInt64
        /// WAL written since the redo point of the last checkpoint.
        var sinceCheckpoint: UInt64
    }

    enum Flush: Sendable, Equatable {
        /// Sync the pool (the branch that wrote the most since the last sync, for the record).
        case sync(Reading)
        /// CHECKPOINT this quiet branch, then sync the pool.
        case checkpoint(Reading)
    }

    var syncEvery: UInt64
    var checkpointFrom: UInt64
    /// WAL growth between two readings under which a branch counts as quiet (autovacuum, a few
    /// small transactions and segment switches do not keep a branch "busy").
    var quietGrowth: UInt64 = 1 << 20
    /// WAL growth between two readings from which a branch is busy (read again sooner).
    var busyGrowth: UInt64
    private var lastPosition: [String: UInt64] = [:]
    private var syncedAt: [String: UInt64] = [:]
    /// The branches that wrote `busyGrowth` or more since their previous reading.
    private(set) var busy: Set<String> = []

    init(syncEvery: UInt64, checkpointFrom: UInt64) {
        self.syncEvery = syncEvery
        self.checkpointFrom = checkpointFrom
        busyGrowth = max(syncEvery / 16, 1 << 20)
    }

    /// What to flush now, if anything, given this round's readings of the running branches.
    /// In a `complete` round, branches missing from `readings` are forgotten (stopped, suspended,
    /// deleted); a round of the busy branches alone forgets nothing and checkpoints nothing.
    mutating func choose(_ readings: [Reading], complete: Bool = true) -> Flush? {
        defer {
            let read = Dictionary(readings.map { ($0.key, $0.position) }, uniquingKeysWith: { _, last in last })
            busy = Set(readings.filter { reading in
                lastPosition[reading.key].map { reading.position &- min(reading.position, $0) >= busyGrowth } ?? false
            }.map(\.key))
            lastPosition = complete ? read : lastPosition.merging(read) { _, new in new }
            syncedAt = syncedAt.filter { lastPosition[$0.key] != nil }
        }
        guard syncEvery > 0 else { return nil }
        for reading in readings where syncedAt[reading.key] == nil || syncedAt[reading.key]! > reading.position {
            syncedAt[reading.key] = reading.position  // first sight (or a new timeline): count from here
        }
        let quiet = !complete ? [] : readings.filter { reading in
            guard reading.sinceCheckpoint >= checkpointFrom, let last = lastPosition[reading.key] else { return false }
            return reading.position &- min(reading.position, last) < quietGrowth
        }
        if let due = quiet.max(by: { $0.sinceCheckpoint < $1.sinceCheckpoint }) {
            flushed(readings)
            return .checkpoint(due)
        }
        let unsynced = readings.filter { $0.position - syncedAt[$0.key]! >= syncEvery }
        if let due = unsynced.max(by: { $0.position - syncedAt[$0.key]! < $1.position - syncedAt[$1.key]! }) {
            flushed(readings)
            return .sync(due)
        }
        return nil
    }

    /// A sync flushes the whole pool: every branch's writes so far are paid.
    private mutating func flushed(_ readings: [Reading]) {
        for reading in readings { syncedAt[reading.key] = reading.position }
    }
}

/// Pre-pays the snapshot of branches that wrote much: every `prePayInterval` it reads each running
/// branch's WAL position, and when `PrePayPolicy` says so syncs the pool, or runs a CHECKPOINT on a
/// quiet branch and then syncs. One flush at a time, awaited in this service's own task: the
/// CHECKPOINT is a libpq call and the sync a `BlockingWork` call, so neither holds a cooperative
/// thread, and writers keep writing (Postgres checkpoints without locking writers out; a Btrfs
/// commit holds them only for its short critical section). Checkpoints are recorded as `prepaid`
/// branch events; both kinds are counted in `/metrics`.
package struct PrePayService: Service {
    let context: EngineContext

    package func run() async throws {
        let configuration = context.configuration
        let prePay = PrePay(context: context)
        await cancelWhenGracefulShutdown {
            // Turned off, the service still runs until shutdown (a Service that returns ends the group).
            guard configuration.prePayThreshold > 0 else {
                try? await Task.sleep(for: .seconds(1 << 40))
                return
            }
            var policy = PrePayPolicy(syncEvery: configuration.prePayThreshold, checkpointFrom: configuration.prePayQuietThreshold)
            let clock = ContinuousClock()
            var lastComplete = clock.now
            while !Task.isCancelled {
                // Busy branches are read five times as often, on their own, between complete rounds.
                try? await Task.sleep(for: policy.busy.isEmpty ? configuration.prePayInterval : configuration.prePayInterval / 5)
                let complete = policy.busy.isEmpty || clock.now - lastComplete >= configuration.prePayInterval
                if complete { lastComplete = clock.now }
                let (readings, branches) = await prePay.readings(only: complete ? nil : policy.busy)
                guard !Task.isCancelled, let flush = policy.choose(readings, complete: complete) else { continue }
                switch flush {
                case .sync(let due): await prePay.flush(branches[due.key], debt: due.sinceCheckpoint, checkpoint: false)
                case .checkpoint(let due): await prePay.flush(branches[due.key], debt: due.sinceCheckpoint, checkpoint: true)
                }
            }
        }
    }
}

struct PrePay: EnginePart {
    let context: EngineContext

    /// WAL readings of the ready, running branches (`only` these keys, when given; a branch that
    /// cannot answer, e.g. one still replaying WAL, is left out of this round).
    func readings(only: Set<String>? = nil) async -> ([PrePayPolicy.Reading], [String: BranchRecord]) {
        guard let branches = try? await catalog.allBranches() else { return ([], [:]) }
        var readings: [PrePayPolicy.Reading] = []
        var byKey: [String: BranchRecord] = [:]
        for branch in branches where branch.state == .ready && !branch.suspended && servers.isRunning(branch) {
            let key = Activity.key(branch)
            if let only, !only.contains(key) { continue }
            guard let wal = try? await servers.walSinceCheckpoint(branch) else { continue }
            readings.append(.init(key: key, position: wal.position, sinceCheckpoint: wal.sinceCheckpoint))
            byKey[key] = branch
        }
        return (readings, byKey)
    }

    /// With `checkpoint`, CHECKPOINT on the branch; then the pool's sync (its Btrfs commit). A
    /// checkpoint is recorded as a `prepaid` event of the branch; failures are logged (the branch
    /// may have stopped meanwhile) and a later round tries again.
    func flush(_ branch: BranchRecord?, debt: UInt64, checkpoint: Bool) async {
        let clock = ContinuousClock()
        let started = clock.now
        do {
            if checkpoint, let branch { try await servers.checkpointIfRunning(branch) }
            let checkpointed = clock.now
            try await storage.sync()
            let synced = clock.now
            await context.prePayCounters.add(checkpoint: checkpoint)
            guard checkpoint, let branch else { return }
            await context.record(
                "prepaid", branch,
                "flushed \(ByteCount.format(debt)) of writes since the last checkpoint in \(Self.ms(synced - started)) ms "
                    + "(checkpoint \(Self.ms(checkpointed - started)) ms, pool sync \(Self.ms(synced - checkpointed)) ms), "
                    + "so the next branch or snapshot of it need not")
        } catch {
            logger.info("pre-pay flush failed", metadata: ["branch": "\(branch.map(Activity.key) ?? "-")", "error": "\(error)"])
        }
    }

    static func ms(_ duration: Duration) -> Int { Int(duration.seconds * 1000) }
}

/// How many pre-pay flushes ran, for `/metrics`.
actor PrePayCounters {
    private(set) var syncs = 0
    private(set) var checkpoints = 0

    func add(checkpoint: Bool) {
        if checkpoint { checkpoints += 1 } else { syncs += 1 }
    }
}
