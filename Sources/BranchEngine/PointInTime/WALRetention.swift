import BranchStorage
import BranchCatalog
import BranchCore
import BranchPostgres
import Foundation

extension PointInTime {
    /// The snapshot a lineage's point-in-time window starts from: the newest usable one at or
    /// before the horizon, else the oldest one after it.
    static func anchor(_ lineage: LineageRecord, snapshots: [SnapshotRecord], horizon: Date) -> SnapshotRecord? {
        let usable = snapshots.filter {
            $0.state == .ready && $0.walStart != nil && ($0.lineage == lineage.id || $0.id == lineage.startSnapshot)
        }
        return usable.filter { $0.createdAt <= horizon }.max { $0.createdAt < $1.createdAt }
            ?? usable.min { $0.createdAt < $1.createdAt }
    }

    /// Deletes archived WAL no point-in-time recovery within the retention window can need: in each
    /// lineage, segments before its anchor's redo point; whole lineages that ended before the window.
    func pruneArchivedWAL(now: Date = Date()) async {
        guard let projects = try? await catalog.projects() else { return }
        for project in projects where project.state == .ready {
            guard let (lineages, snapshots) = try? await catalog.read({ tx in (try tx.lineages(project.name), try tx.snapshots(project.name)) })
            else { continue }
            let horizon = now.addingTimeInterval(-Double(project.retentionDays ?? configuration.retentionDays) * 86400)
            for lineage in lineages {
                let directory = layout.wal(project.name, lineage: lineage.id)
                if let ended = lineage.endedAt, ended < horizon {
                    try? FileManager.default.removeItem(atPath: directory)
                    try? await catalog.write { try $0.deleteLineage(lineage.id) }
                    continue
                }
                guard let anchor = Self.anchor(lineage, snapshots: snapshots, horizon: horizon),
                    let start = anchor.walStart.flatMap(WALArchive.position(ofSegment:))
                else { continue }
                for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".zst") {
                    let name = String(file.dropLast(4))
                    if let position = WALArchive.position(ofSegment: name), position < start {
                        try? FileManager.default.removeItem(atPath: "\(directory)/\(file)")
                    }
                }
            }
        }
    }
}
