@testable import BranchEngine
import Foundation
import Testing

@Suite("Pre-paying snapshots and disk guards")
struct PrePayTests {
    typealias Reading = PrePayPolicy.Reading
    let mb: UInt64 = 1 << 20

    func reading(_ key: String, at position: UInt64, since: UInt64) -> Reading {
        Reading(key: key, position: position * mb, sinceCheckpoint: since * mb)
    }

    func policy() -> PrePayPolicy { PrePayPolicy(syncEvery: 64 * mb, checkpointFrom: 32 * mb) }

    @Test("while a branch writes, the pool is synced every 64 MB of its WAL, never checkpointed")
    func syncWhileWriting() {
        var policy = policy()
        #expect(policy.choose([reading("app/main", at: 1000, since: 10)]) == nil)  // first sight: counts from here
        #expect(policy.choose([reading("app/main", at: 1040, since: 50)]) == nil)
        let due = reading("app/main", at: 1070, since: 80)
        #expect(policy.choose([due]) == .sync(due))
        // Counted again from the sync.
        #expect(policy.choose([reading("app/main", at: 1120, since: 130)]) == nil)
        #expect(policy.choose([reading("app/main", at: 1140, since: 150)]) == .sync(reading("app/main", at: 1140, since: 150)))
    }

    @Test("once the WAL stops growing, a branch with 32 MB or more since its last checkpoint is checkpointed")
    func checkpointWhenQuiet() {
        var policy = policy()
        #expect(policy.choose([reading("app/main", at: 500, since: 40)]) == nil)
        #expect(policy.choose([reading("app/main", at: 500, since: 40)]) == .checkpoint(reading("app/main", at: 500, since: 40)))
        var small = self.policy()
        #expect(small.choose([reading("app/b", at: 10, since: 20)]) == nil)
        #expect(small.choose([reading("app/b", at: 10, since: 20)]) == nil)
    }

    @Test("a trickle of WAL (autovacuum, a few small transactions) still counts as quiet; steady writing does not")
    func quietGrowth() {
        var policy = policy()
        _ = policy.choose([Reading(key: "k", position: 500 * mb, sinceCheckpoint: 100 * mb)])
        let trickle = Reading(key: "k", position: 500 * mb + 4096, sinceCheckpoint: 100 * mb + 4096)
        #expect(policy.choose([trickle]) == .checkpoint(trickle))
        var busy = self.policy()
        _ = busy.choose([reading("k", at: 500, since: 100)])
        #expect(busy.choose([reading("k", at: 520, since: 120)]) == nil)
    }

    @Test("one flush at a time: the quiet branch with the largest debt first; a sync covers every branch")
    func oneAtATime() {
        var policy = policy()
        _ = policy.choose([reading("a", at: 300, since: 300), reading("b", at: 900, since: 900), reading("c", at: 5, since: 5)])
        let chosen = policy.choose([reading("a", at: 300, since: 300), reading("b", at: 900, since: 900), reading("c", at: 100, since: 100)])
        #expect(chosen == .checkpoint(reading("b", at: 900, since: 900)))
        var writers = self.policy()
        _ = writers.choose([reading("a", at: 0, since: 0), reading("b", at: 0, since: 0)])
        #expect(writers.choose([reading("a", at: 100, since: 100), reading("b", at: 70, since: 70)]) == .sync(reading("a", at: 100, since: 100)))
        // b's writes were on disk after that sync too.
        #expect(writers.choose([reading("a", at: 120, since: 120), reading("b", at: 120, since: 120)]) == nil)
    }

    @Test("a branch that disappears (stopped, deleted) is forgotten: coming back, it needs a new quiet round")
    func forgetsMissing() {
        var policy = policy()
        _ = policy.choose([reading("a", at: 100, since: 40)])
        _ = policy.choose([])
        #expect(policy.choose([reading("a", at: 100, since: 40)]) == nil)
        #expect(policy.choose([reading("a", at: 100, since: 40)]) == .checkpoint(reading("a", at: 100, since: 40)))
    }

    @Test("a branch writing fast is busy; rounds of the busy branches alone sync but neither checkpoint nor forget")
    func busyRounds() {
        var policy = policy()
        #expect(policy.choose([reading("load", at: 0, since: 0), reading("idle", at: 50, since: 10)]) == nil)
        #expect(policy.choose([reading("load", at: 30, since: 30), reading("idle", at: 50, since: 10)]) == nil)
        #expect(policy.busy == ["load"])
        // Rounds of the busy branch alone: synced every 64 MB as before.
        #expect(policy.choose([reading("load", at: 50, since: 50)], complete: false) == nil)
        let due = reading("load", at: 100, since: 100)
        #expect(policy.choose([due], complete: false) == .sync(due))
        #expect(policy.busy == ["load"])
        // The load stops: the next partial round finds it no longer busy, and checkpoints nothing.
        #expect(policy.choose([due], complete: false) == nil)
        #expect(policy.busy.isEmpty)
        // The idle branch was remembered through the partial rounds: quiet at once in a complete one.
        #expect(policy.choose([reading("idle", at: 50, since: 40)]) == .checkpoint(reading("idle", at: 50, since: 40)))
    }

    @Test("a zero threshold turns pre-paying off")
    func off() {
        var policy = PrePayPolicy(syncEvery: 0, checkpointFrom: 32 * mb)
        _ = policy.choose([reading("a", at: 5000, since: 5000)])
        #expect(policy.choose([reading("a", at: 9000, since: 9000)]) == nil)
        #expect(policy.choose([reading("a", at: 9000, since: 9000)]) == nil)
    }

    @Test("the automatic free-space reserve is 1 GiB, or a tenth of a pool under 10 GiB")
    func automaticReserve() {
        #expect(EngineConfiguration.automaticFreeSpaceReserve(poolBytes: 100 << 30) == 1 << 30)
        #expect(EngineConfiguration.automaticFreeSpaceReserve(poolBytes: 10 << 30) == 1 << 30)
        #expect(EngineConfiguration.automaticFreeSpaceReserve(poolBytes: 2 << 30) == (2 << 30) / 10)
        #expect(EngineConfiguration.automaticFreeSpaceReserve(poolBytes: 0) == 1 << 30)
    }

    @Test("a pool_full hint names the largest things to free with their commands")
    func hint() {
        let hint = DiskUsage.hint([
            .init(kind: .snapshot, project: "app", name: "s-1a2b", bytes: 3 << 30),
            .init(kind: .branch, project: "app", name: "feature", bytes: 2 << 30),
            .init(kind: .wal, project: "shop", name: nil, bytes: 1 << 30),
            .init(kind: .branch, project: "app", name: "tiny", bytes: 1 << 20),
        ])
        #expect(hint.contains("snapshot s-1a2b of app"))
        #expect(hint.contains("`branch snapshot delete s-1a2b --project app`"))
        #expect(hint.contains("`branch delete feature --project app`"))
        #expect(hint.contains("the WAL archive of shop"))
        #expect(hint.contains("`branch project set shop --retention 1d`"))
        #expect(!hint.contains("tiny"))
        #expect(DiskUsage.hint([]).contains("--free-space-reserve"))
    }
}
