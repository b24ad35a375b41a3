import BranchAPI
import Foundation

/// What `monitoring.mustache` shows for one branch over a time range.
struct MonitoringModel: Sendable {
    struct Chart: Sendable {
        var id: String
        var title: String
        var latest: String
        var width: Double
        var height: Double
        var lines: [Line]
        var gridlines: [ChartGeometry.Gridline]
        var empty: Bool
        var startMs: Int
        var endMs: Int
        var maximum: Double
    }

    struct Line: Sendable {
        /// The sample field monitoring.js appends from the stream.
        var field: String
        var label: String
        var path: String
        var points: String
    }

    struct Range: Sendable {
        var label: String
        var href: String
        var current: Bool
    }

    struct Event: Sendable {
        var at: String
        var kind: String
        var branch: String
        var detail: String
    }

    struct Operation: Sendable {
        var started: String
        var kind: String
        var target: String
        var state: String
        var failed: Bool
        var duration: String
        var error: String
    }

    struct TopQuery: Sendable {
        var query: String
        var calls: String
        var totalMs: String
        var meanMs: String
        var rows: String
    }

    var project: String
    var branch: String
    var ranges: [Range]
    var charts: [Chart]
    var status: String
    /// The status as a CSS class suffix (`state-running`).
    var statusClass: String
    var restarts: String
    var streamURL: String
    var events: [Event]
    var noEvents: Bool
    var operations: [Operation]
    var logs: [LogLine]
    var logLevels: [Option]
    var logComponents: [Option]
    var search: String
    var logStreamURL: String
    var logsError: String?
    var topQueries: [TopQuery]
    var topQueriesNote: String?
    var intervalSeconds: String
    var allBranchesHref: String

    struct Option: Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    static let ranges: [(String, Int)] = [("15m", 15), ("1h", 60), ("6h", 360), ("24h", 1440)]

    /// The `range` asked for (default 1h) and its minutes.
    static func range(_ asked: String?) -> (label: String, minutes: Int) {
        ranges.first { $0.0 == asked } ?? ranges[1]
    }

    /// A server status as a CSS class suffix (`state-running`).
    static func statusClass(_ status: String?) -> String {
        status?.filter { $0.isLetter || $0 == "-" } ?? "unknown"
    }

    typealias Series = (field: String, label: String, points: [ChartGeometry.Point])

    /// One chart of `lines` on a shared y scale between `start` and `end`; `floor` is the least
    /// maximum, `bytes` rounds it to a power of two.
    static func chart(
        _ id: String, _ title: String, floor: Double, bytes: Bool = false, format: @escaping (Double) -> String, _ lines: [Series],
        from start: Date, to end: Date
    ) -> Chart {
        let all = lines.flatMap(\.points)
        let scale = ChartGeometry(points: all, from: start, to: end, floor: floor, binary: bytes, format: format)
        let rendered = lines.map { line in
            let geometry = ChartGeometry(points: line.points, from: start, to: end, scale: scale.maximum, format: format)
            let json = line.points.compactMap { point in point.value.map { "[\(Int(point.at.timeIntervalSince1970 * 1000)),\($0)]" } }
            return Line(field: line.field, label: line.label, path: geometry.path, points: "[" + json.joined(separator: ",") + "]")
        }
        let latest = lines.compactMap { line in line.points.last?.value.map { "\(line.label) \(format($0))" } }.joined(separator: " · ")
        return Chart(
            id: id, title: title, latest: latest.isEmpty ? "no samples" : latest, width: scale.width, height: scale.height, lines: rendered,
            gridlines: scale.gridlines, empty: scale.isEmpty, startMs: Int(start.timeIntervalSince1970 * 1000),
            endMs: Int(end.timeIntervalSince1970 * 1000), maximum: scale.maximum)
    }

    /// The charts of one branch's samples between `start` and `end`.
    static func charts(_ samples: [Components.Schemas.MetricSample], from start: Date, to end: Date) -> [Chart] {
        let points = samples.map { ($0, $0.at) }
        func series(_ value: (Components.Schemas.MetricSample) -> Double?) -> [ChartGeometry.Point] {
            points.map { .init(at: $0.1, value: value($0.0)) }
        }
        func chart(_ id: String, _ title: String, floor: Double, bytes: Bool = false, format: @escaping (Double) -> String, _ lines: [Series]) -> Chart {
            Self.chart(id, title, floor: floor, bytes: bytes, format: format, lines, from: start, to: end)
        }
        return [
            chart("cpu", "CPU", floor: 10, format: { ChartGeometry.compact($0) + "%" }, [("cpuPercent", "CPU", series { $0.cpuPercent })]),
            chart("memory", "Memory", floor: 1_048_576, bytes: true, format: { Formatting.bytes(Int($0)) },
                  [("memoryBytes", "used", series { $0.memoryBytes.map(Double.init) })]),
            chart("io", "Disk IO", floor: 1024, bytes: true, format: { Formatting.bytes(Int($0)) + "/s" },
                  [("ioReadBytesPerSecond", "read", series { $0.ioReadBytesPerSecond }),
                   ("ioWriteBytesPerSecond", "write", series { $0.ioWriteBytesPerSecond })]),
            chart("connections", "Connections", floor: 5, format: { ChartGeometry.compact($0) },
                  [("activeConnections", "active", series { $0.activeConnections.map(Double.init) }),
                   ("idleConnections", "idle", series { $0.idleConnections.map(Double.init) }),
                   ("maxConnections", "max", series { $0.maxConnections.map(Double.init) })]),
            chart("rows", "Rows written", floor: 10, format: { ChartGeometry.compact($0) + "/s" },
                  [("rowsInsertedPerSecond", "inserted", series { $0.rowsInsertedPerSecond }),
                   ("rowsUpdatedPerSecond", "updated", series { $0.rowsUpdatedPerSecond }),
                   ("rowsDeletedPerSecond", "deleted", series { $0.rowsDeletedPerSecond })]),
            chart("wal", "WAL written", floor: 1024, bytes: true, format: { Formatting.bytes(Int($0)) + "/s" },
                  [("walBytesPerSecond", "WAL", series { $0.walBytesPerSecond })]),
            chart("deadlocks", "Deadlocks", floor: 1, format: { ChartGeometry.compact($0) },
                  [("deadlocks", "deadlocks", series { $0.deadlocks.map(Double.init) })]),
            chart("size", "Database size and disk", floor: 1_048_576, bytes: true, format: { Formatting.bytes(Int($0)) },
                  [("databaseBytes", "database", series { $0.databaseBytes.map(Double.init) }),
                   ("exclusiveBytes", "only this branch on disk", series { $0.exclusiveBytes.map(Double.init) })]),
        ]
    }
}
