import BranchAPI
import Foundation

/// What `monitoring-branches.mustache` shows: every branch of a project on the same charts (a
/// line per branch, told apart by colour and dash pattern and named in the legend and the line's
/// title), and a table of each branch's latest sample, which says the same in numbers.
struct BranchesMonitoringModel: Sendable {
    struct Row: Sendable {
        var branch: String
        var href: String
        /// The line's style (`b0`…`b7`), as in the charts' legend.
        var style: String
        var status: String
        var statusClass: String
        var cpu: String
        var memory: String
        var connections: String
        var io: String
        var size: String
        var restarts: String
    }

    var project: String
    var ranges: [MonitoringModel.Range]
    var charts: [MonitoringModel.Chart]
    var rows: [Row]
    var empty: Bool
    var branchHref: String
    var intervalSeconds: String

    /// Line styles before they repeat (colour and dash pattern each).
    static let styles = 8

    /// The charts of every branch's samples, a line per branch, in the order of `series`.
    static func charts(_ series: [Components.Schemas.MetricSeries], from start: Date, to end: Date) -> [MonitoringModel.Chart] {
        func lines(_ value: (Components.Schemas.MetricSample) -> Double?) -> [MonitoringModel.Series] {
            series.enumerated().map { index, one in
                (field: "b\(index % styles)", label: one.branch, points: one.samples.map { .init(at: $0.at, value: value($0)) })
            }
        }
        func chart(_ id: String, _ title: String, floor: Double, bytes: Bool = false, format: @escaping (Double) -> String,
                   _ value: (Components.Schemas.MetricSample) -> Double?) -> MonitoringModel.Chart {
            MonitoringModel.chart(id, title, floor: floor, bytes: bytes, format: format, lines(value), from: start, to: end)
        }
        return [
            chart("cpu", "CPU", floor: 10, format: { ChartGeometry.compact($0) + "%" }) { $0.cpuPercent },
            chart("memory", "Memory", floor: 1_048_576, bytes: true, format: { Formatting.bytes(Int($0)) }) { $0.memoryBytes.map(Double.init) },
            chart("connections", "Active connections", floor: 5, format: { ChartGeometry.compact($0) }) { $0.activeConnections.map(Double.init) },
            chart("io", "Disk IO (read + write)", floor: 1024, bytes: true, format: { Formatting.bytes(Int($0)) + "/s" }) { sample in
                sample.ioReadBytesPerSecond.map { $0 + (sample.ioWriteBytesPerSecond ?? 0) }
            },
            chart("rows", "Rows written", floor: 10, format: { ChartGeometry.compact($0) + "/s" }) { sample in
                sample.rowsInsertedPerSecond.map { $0 + (sample.rowsUpdatedPerSecond ?? 0) + (sample.rowsDeletedPerSecond ?? 0) }
            },
            chart("size", "Database size", floor: 1_048_576, bytes: true, format: { Formatting.bytes(Int($0)) }) { $0.databaseBytes.map(Double.init) },
        ]
    }

    /// A row per branch from its newest sample ("—" where there is none yet).
    static func rows(_ series: [Components.Schemas.MetricSeries], href: (String) -> String) -> [Row] {
        series.enumerated().map { index, one in
            let newest = one.samples.last
            func show<T>(_ value: T?, _ format: (T) -> String) -> String { value.map(format) ?? "—" }
            return Row(
                branch: one.branch, href: href(one.branch), style: "b\(index % styles)", status: newest?.status ?? "no samples yet",
                statusClass: MonitoringModel.statusClass(newest?.status),
                cpu: show(newest?.cpuPercent) { ChartGeometry.compact($0) + "%" },
                memory: show(newest?.memoryBytes) { Formatting.bytes($0) },
                connections: show(newest?.activeConnections) { active in "\(active) active" + (newest?.idleConnections.map { ", \($0) idle" } ?? "") },
                io: show(newest?.ioReadBytesPerSecond) { Formatting.bytes(Int($0 + (newest?.ioWriteBytesPerSecond ?? 0))) + "/s" },
                size: show(newest?.databaseBytes) { Formatting.bytes($0) },
                restarts: show(newest?.restarts) { String($0) })
        }
    }
}
