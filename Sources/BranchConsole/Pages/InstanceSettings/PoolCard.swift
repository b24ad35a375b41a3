import BranchAPI
import Foundation

/// The pool on the instance settings page: how full it is, what takes its space (a bar drawn as
/// SVG, so it needs no script and no inline style), where the disk guard starts refusing, and
/// the largest branches, snapshots and WAL archives with the command that frees each.
struct PoolCard: Sendable {
    struct Part: Sendable {
        var key: String
        var label: String
        var size: String
        /// Where the part starts and how wide it is, in thousandths of the bar.
        var x: Int
        var width: Int
    }

    struct Item: Sendable {
        var what: String
        var size: String
        var command: String
    }

    var path: String
    var used: String
    var free: String
    var total: String
    var usedPercent: String
    var reserve: String
    /// Free space is within twice the reserve: growth will soon be refused.
    var low: Bool
    /// Where the guard starts refusing, in thousandths of the bar.
    var reserveX: Int
    var parts: [Part]
    var largest: [Item]
    var noLargest: Bool
    var quotas: Bool
    var measured: String
    var summary: String

    init(_ pool: Components.Schemas.PoolStatus) {
        let total = max(pool.totalBytes, 1)
        let usedBytes = max(0, pool.totalBytes - pool.freeBytes)
        let usage = pool.usage
        var measured: [(String, String, Int)] = [
            ("branches", "Branches", usage.branches ?? 0), ("snapshots", "Snapshots", usage.snapshots ?? 0),
            ("wal", "WAL archive", usage.wal), ("templates", "Templates", usage.templates ?? 0), ("logs", "Logs", usage.logs),
            ("work", "In flight", usage.work),
        ]
        if usage.backupsOnPool, let backups = usage.backups { measured.append(("backups", "Backups", backups)) }
        // What the filesystem counts as used beyond these: shared copy-on-write extents, metadata, the catalog.
        let known = measured.reduce(0) { $0 + $1.2 }
        measured.append(("other", "Shared and metadata", max(0, usedBytes - known)))
        var x = 0
        parts = measured.filter { $0.2 > 0 }.map { key, label, bytes in
            let width = max(2, Int((Double(bytes) / Double(total) * 1000).rounded()))
            defer { x += width }
            return Part(key: key, label: label, size: Formatting.bytes(bytes), x: min(x, 1000), width: max(0, min(width, 1000 - min(x, 1000))))
        }
        path = pool.path
        used = Formatting.bytes(usedBytes)
        free = Formatting.bytes(pool.freeBytes)
        self.total = Formatting.bytes(pool.totalBytes)
        usedPercent = String(format: "%.0f%%", Double(usedBytes) / Double(total) * 100)
        reserve = Formatting.bytes(pool.reserveBytes)
        low = pool.freeBytes < pool.reserveBytes * 2
        reserveX = max(0, 1000 - Int((Double(pool.reserveBytes) / Double(total) * 1000).rounded()))
        largest = usage.largest.prefix(5).map { item in
            let what = switch item.kind {
            case .branch: "branch \(item.project)/\(item.name ?? "")"
            case .snapshot: "snapshot \(item.project)/\(item.name ?? "")"
            case .wal: "WAL archive of \(item.project)"
            }
            return Item(what: what, size: Formatting.bytes(item.bytes), command: item.command)
        }
        noLargest = largest.isEmpty
        quotas = pool.quotas
        self.measured = Formatting.age(usage.measuredAt)
        summary = "\(used) of \(self.total) used (\(usedPercent)), \(free) free"
    }
}
