import BranchAPI
import Foundation

/// What the overview shows of a past instant: the branches that existed then, each server's
/// sample nearest before it (from the metrics the service keeps: 720 per branch, an hour at the
/// default 5 s interval), the snapshots,
/// backups and activity up to it, and the last verified restore if it came before. Pure: the page
/// reads the lists as for now and passes them through.
struct OverviewMoment: Sendable {
    let instant: Date
    /// A sample older than this before the instant says nothing of it.
    static let sampleReach: TimeInterval = 300

    func branches(_ all: [Components.Schemas.BranchInfo]) -> [Components.Schemas.BranchInfo] {
        all.filter { $0.createdAt <= instant }
    }

    /// The newest sample at or before the instant, within `sampleReach`.
    func sample(_ samples: [Components.Schemas.MetricSample]) -> Components.Schemas.MetricSample? {
        samples.last { $0.at <= instant && instant.timeIntervalSince($0.at) <= Self.sampleReach }
    }

    func snapshots(_ all: [Components.Schemas.SnapshotInfo]) -> [Components.Schemas.SnapshotInfo] {
        all.filter { $0.createdAt <= instant }
    }

    func backups(_ all: [Components.Schemas.BackupInfo]) -> [Components.Schemas.BackupInfo] {
        all.filter { $0.startedAt <= instant }
    }

    func verification(_ last: Components.Schemas.BackupVerification?) -> Components.Schemas.BackupVerification? {
        last.flatMap { $0.at <= instant ? $0 : nil }
    }

    func operations(_ all: [Components.Schemas.OperationInfo]) -> [Components.Schemas.OperationInfo] {
        all.filter { $0.startedAt <= instant }
    }

    func events(_ all: [Components.Schemas.EventInfo]) -> [Components.Schemas.EventInfo] {
        all.filter { $0.at <= instant }
    }

    /// How many minutes of metrics reach back to the instant (the API answers what it keeps;
    /// a day covers the store at any interval up to two minutes).
    static func minutes(back to: Date, now: Date = Date()) -> Int {
        max(1, min(Int(now.timeIntervalSince(to) / 60) + 6, 24 * 60))
    }
}
