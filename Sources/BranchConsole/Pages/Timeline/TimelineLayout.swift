import Foundation

/// Where everything on the timeline goes: one lane per branch (in tree order, children under
/// their parent), a fork edge from the parent's lane at the branch's creation, snapshots as dots
/// shaped by kind, the point-in-time window as a band cut into clickable stretches, backups as
/// markers, and restores and merges as marks. Pure: the same input gives the same picture, so it
/// is unit-tested; the SVG markup is in `timeline.mustache`.
struct TimelineLayout: Sendable {
    struct Branch: Sendable {
        var name: String
        var parent: String?
        var createdAt: Date
        var earliestRestorableAt: Date?
        var checkedOut: Bool
    }

    struct Snapshot: Sendable {
        var id: String
        var name: String?
        var kind: String
        var branch: String
        var createdAt: Date
    }

    struct Backup: Sendable {
        var id: String
        var branch: String
        var startedAt: Date
        var status: String
    }

    /// A restore, reset or merge that changed `branch` (a merge also names its `source`).
    struct Change: Sendable {
        var kind: String
        var branch: String
        var source: String?
        var at: Date
    }

    struct Geometry: Sendable {
        var width: Double = 1000
        var labelWidth: Double = 150
        var right: Double = 20
        var top: Double = 34
        var laneHeight: Double = 44
        var bottom: Double = 16
        /// Clickable stretches each band is cut into (without JS a click cannot say where it was).
        var bandStretches: Int = 24
    }

    struct Lane: Sendable {
        var name: String
        var y: Double
        var labelY: Double
        var startX: Double
        var endX: Double
        var checkedOut: Bool
        /// Snapshots of branches that no longer exist.
        var deleted: Bool
        var band: Band?
        var fork: Fork?
    }

    struct Band: Sendable {
        var x: Double
        var y: Double
        var width: Double
        var height: Double
        var stretches: [Stretch]
    }

    /// A clickable piece of a band: the instant at its middle.
    struct Stretch: Sendable {
        var x: Double
        var width: Double
        var at: Date
    }

    struct Fork: Sendable {
        var x: Double
        var fromY: Double
        var toY: Double
        var parent: String
    }

    enum Shape: String, Sendable { case circle, ring, square, diamond, triangle }

    struct Dot: Sendable {
        var snapshot: Snapshot
        var x: Double
        var y: Double
        var shape: Shape
        /// Polygon points for diamonds and triangles; the square's corner for squares.
        var points: String
        var radius: Double
    }

    struct Marker: Sendable {
        var backup: Backup
        var x: Double
        var y: Double
        var points: String
    }

    struct ChangeMark: Sendable {
        var change: Change
        var x: Double
        var fromY: Double
        var toY: Double
        var merge: Bool
    }

    struct Tick: Sendable {
        var x: Double
        var label: String
    }

    let geometry: Geometry
    let start: Date
    let end: Date
    let lanes: [Lane]
    let dots: [Dot]
    let markers: [Marker]
    let changes: [ChangeMark]
    let ticks: [Tick]
    var width: Double { geometry.width }
    var height: Double { geometry.top + Double(max(lanes.count, 1)) * geometry.laneHeight + geometry.bottom }
    var plotLeft: Double { geometry.labelWidth }
    var plotWidth: Double { geometry.width - geometry.labelWidth - geometry.right }

    static let deletedLane = "(deleted branches)"

    /// `since`: the left edge (a zoomed-in window); nil fits everything up to `now`.
    init(
        branches: [Branch], snapshots: [Snapshot], backups: [Backup] = [], changes: [Change] = [], now: Date, since: Date? = nil,
        geometry: Geometry = Geometry()
    ) {
        self.geometry = geometry
        let ordered = Self.treeOrder(branches)
        let earliest = (branches.map(\.createdAt) + branches.compactMap(\.earliestRestorableAt) + snapshots.map(\.createdAt) + backups.map(\.startedAt)).min() ?? now
        var start = min(since ?? earliest, now)
        if now.timeIntervalSince(start) < 60 { start = now.addingTimeInterval(-60) }
        // A little room before the first thing, so a dot at the very start is not cut in half.
        if since == nil { start = start.addingTimeInterval(-now.timeIntervalSince(start) * 0.02) }
        self.start = start
        self.end = now
        let left = geometry.labelWidth
        let plot = geometry.width - geometry.labelWidth - geometry.right
        let span = now.timeIntervalSince(start)
        func x(_ date: Date) -> Double { Self.round(left + max(0, min(1, date.timeIntervalSince(start) / span)) * plot) }
        func visible(_ date: Date) -> Bool { date >= start && date <= now }

        let known = Set(branches.map(\.name))
        var names = ordered.map(\.name)
        let orphans = snapshots.contains { !known.contains($0.branch) } || backups.contains { !known.contains($0.branch) }
        if orphans { names.append(Self.deletedLane) }
        var laneY: [String: Double] = [:]
        for (index, name) in names.enumerated() { laneY[name] = Self.round(geometry.top + (Double(index) + 0.5) * geometry.laneHeight) }
        func y(_ branch: String) -> Double { laneY[branch] ?? laneY[Self.deletedLane] ?? geometry.top }

        var lanes: [Lane] = ordered.map { branch in
            let laneTop = y(branch.name)
            let startX = x(branch.createdAt)
            var band: Band?
            let from = max(branch.earliestRestorableAt ?? branch.createdAt, start)
            if from < now {
                let bandX = x(from)
                let width = Self.round(left + plot - bandX)
                let count = max(1, Int((Double(geometry.bandStretches) * width / plot).rounded(.up)))
                let seconds = now.timeIntervalSince(from) / Double(count)
                let stretches = (0..<count).map { index -> Stretch in
                    let stretchStart = from.addingTimeInterval(seconds * Double(index))
                    let stretchX = x(stretchStart)
                    let stretchEnd = x(stretchStart.addingTimeInterval(seconds))
                    let middle = stretchStart.addingTimeInterval(seconds / 2)
                    return Stretch(x: stretchX, width: Self.round(stretchEnd - stretchX), at: Date(timeIntervalSince1970: middle.timeIntervalSince1970.rounded(.down)))
                }
                band = Band(x: bandX, y: Self.round(laneTop - 9), width: width, height: 18, stretches: stretches)
            }
            let fork = branch.parent.flatMap { parent in laneY[parent].map { Fork(x: startX, fromY: $0, toY: laneTop, parent: parent) } }
            return Lane(
                name: branch.name, y: laneTop, labelY: Self.round(laneTop + 4), startX: startX, endX: Self.round(left + plot),
                checkedOut: branch.checkedOut, deleted: false, band: band, fork: visible(branch.createdAt) ? fork : nil)
        }
        if orphans {
            let laneTop = y(Self.deletedLane)
            lanes.append(Lane(name: Self.deletedLane, y: laneTop, labelY: Self.round(laneTop + 4), startX: left, endX: Self.round(left + plot), checkedOut: false, deleted: true))
        }
        self.lanes = lanes

        dots = snapshots.filter { visible($0.createdAt) }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.map { snapshot in
            let (cx, cy) = (x(snapshot.createdAt), y(snapshot.branch))
            let shape = Self.shape(snapshot.kind)
            let radius: Double = snapshot.kind == "automatic" ? 4 : 6
            let points: String
            switch shape {
            case .diamond: points = Self.polygon([(cx, cy - 7), (cx + 7, cy), (cx, cy + 7), (cx - 7, cy)])
            case .triangle: points = Self.polygon([(cx, cy - 7), (cx + 7, cy + 6), (cx - 7, cy + 6)])
            case .square: points = Self.polygon([(cx - 5, cy - 5), (cx + 5, cy - 5), (cx + 5, cy + 5), (cx - 5, cy + 5)])
            case .circle, .ring: points = ""
            }
            return Dot(snapshot: snapshot, x: cx, y: cy, shape: shape, points: points, radius: radius)
        }
        markers = backups.filter { visible($0.startedAt) }.sorted { $0.startedAt < $1.startedAt }.map { backup in
            let (bx, by) = (x(backup.startedAt), y(backup.branch) + 13)
            // A small shield below the lane, pointing up at the state it holds.
            return Marker(backup: backup, x: bx, y: Self.round(by), points: Self.polygon([(bx, by - 4), (bx + 5, by + 4), (bx - 5, by + 4)]))
        }
        self.changes = changes.filter { visible($0.at) && laneY[$0.branch] != nil }.map { change in
            let target = y(change.branch)
            let source = change.source.flatMap { laneY[$0] }
            return ChangeMark(change: change, x: x(change.at), fromY: source ?? Self.round(target - 16), toY: target, merge: source != nil)
        }
        ticks = Self.ticks(start: start, end: now, x: x)
    }

    /// Where `date` is horizontally (clamped to the plot).
    func xPosition(_ date: Date) -> Double {
        let span = end.timeIntervalSince(start)
        return Self.round(plotLeft + max(0, min(1, date.timeIntervalSince(start) / span)) * plotWidth)
    }

    /// The lane of `branch`, if it is shown.
    func lane(_ branch: String) -> Lane? { lanes.first { $0.name == branch } }

    /// The instant at horizontal position `x` (what a click inside a band means).
    func instant(atX position: Double) -> Date {
        let fraction = max(0, min(1, (position - plotLeft) / plotWidth))
        return start.addingTimeInterval(fraction * end.timeIntervalSince(start))
    }

    static func shape(_ kind: String) -> Shape {
        switch kind {
        case "manual": .circle
        case "automatic": .circle
        case "base": .ring
        case "pre-restore": .diamond
        case "backup": .square
        default: .triangle
        }
    }

    /// Parents before children, siblings by creation; a branch whose parent is gone is a root.
    static func treeOrder(_ branches: [Branch]) -> [Branch] {
        let names = Set(branches.map(\.name))
        let children = Dictionary(grouping: branches) { $0.parent.flatMap { names.contains($0) ? $0 : nil } ?? "" }
        var result: [Branch] = []
        func visit(_ parent: String) {
            for branch in (children[parent] ?? []).sorted(by: { ($0.createdAt, $0.name) < ($1.createdAt, $1.name) }) {
                result.append(branch)
                visit(branch.name)
            }
        }
        visit("")
        return result
    }

    /// Axis labels at a round step giving at most 8 of them, in UTC.
    static func ticks(start: Date, end: Date, x: (Date) -> Double) -> [Tick] {
        let span = end.timeIntervalSince(start)
        let steps: [TimeInterval] = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 30 * 86400]
        let step = steps.first { span / $0 <= 8 } ?? steps[steps.count - 1]
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = step >= 86400 ? "MMM d" : span > 86400 ? "MMM d HH:mm" : step < 60 ? "HH:mm:ss" : "HH:mm"
        var ticks: [Tick] = []
        var time = (start.timeIntervalSince1970 / step).rounded(.up) * step
        while time <= end.timeIntervalSince1970 {
            let date = Date(timeIntervalSince1970: time)
            ticks.append(Tick(x: x(date), label: formatter.string(from: date)))
            time += step
        }
        return ticks
    }

    static func round(_ value: Double) -> Double { (value * 10).rounded() / 10 }

    static func polygon(_ points: [(Double, Double)]) -> String {
        points.map { "\(format(round($0.0))),\(format(round($0.1)))" }.joined(separator: " ")
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
