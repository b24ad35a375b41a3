import BranchAPI
import Foundation

/// What `timeline.mustache` renders: the layout's coordinates with a link, a title and classes on
/// every mark, the filters, the two-point selection and the open point's panel.
struct TimelineView: Sendable {
    struct Lane: Sendable {
        var name: String
        /// The name cut to fit the label column (the full name is the link's title).
        var label: String
        var y: Double
        var labelY: Double
        var startX: Double
        var endX: Double
        var checkedOut: Bool
        var deleted: Bool
        var href: String
        var band: Band?
        var fork: TimelineLayout.Fork?
    }

    struct Band: Sendable {
        var x: Double
        var y: Double
        var width: Double
        var height: Double
        var stretches: [Stretch]
    }

    /// A clickable piece of a band (its y and height are the band's).
    struct Stretch: Sendable {
        var x: Double
        var width: Double
        var href: String
        var title: String
        var at: String
        var lane: String
        /// Only the newest stretch of a band is a tab stop (two dozen per lane would swamp the keyboard).
        var focusable: Bool
    }

    struct Dot: Sendable {
        var id: String
        var x: Double
        var y: Double
        var radius: Double
        var points: String
        var circle: Bool
        var polygon: Bool
        var kind: String
        var title: String
        var href: String
        var selected: String?
        var open: Bool
    }

    struct Marker: Sendable {
        var x: Double
        var y: Double
        var points: String
        var status: String
        var title: String
        var href: String
    }

    struct Change: Sendable {
        var x: Double
        var fromY: Double
        var toY: Double
        var merge: Bool
        var kind: String
        var title: String
    }

    struct Pin: Sendable {
        var x: Double
        var y: Double
        var top: Double
        var bottom: Double
        var label: String
    }

    struct Link: Sendable {
        var label: String
        var href: String
    }

    struct Option: Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    struct BranchHere: Sendable {
        var action: String
        var source: String
        var from: String?
        var at: String?
        var snapshot: String?
        var name: String
        var back: String
        var cli: String
    }

    struct Panel: Sendable {
        var title: String
        var detail: String
        var queryHref: String?
        /// The schema, the tables and the overview as they were at the point (same instant as `queryHref`).
        var schemaHref: String?
        var tablesHref: String?
        var overviewHref: String?
        var branchHere: BranchHere?
        var diffs: [Link]
        var hasDiffs: Bool
        var restoreHref: String?
        var selectA: String
        var selectB: String
        var closeHref: String
        var cli: String
    }

    struct Selection: Sendable {
        var a: String?
        var b: String?
        var clearHref: String
        var diffHref: String?
        var cli: String?
    }

    var width: Double
    var height: Double
    var viewBox: String
    var plotLeft: Double
    var plotWidth: Double
    var start: Double
    var end: Double
    var axisY: Double
    var lanes: [Lane]
    var dots: [Dot]
    var markers: [Marker]
    var changes: [Change]
    var ticks: [TimelineLayout.Tick]
    var pins: [Pin]
    var window: String
    var counts: String
    var search: String
    var hideAutomatic: Bool
    var branch: String?
    var a: String?
    var b: String?
    var ranges: [Option]
    var panel: Panel?
    var selection: Selection?
    var mayWrite: Bool
    var empty: Bool

    init(
        layout: TimelineLayout, query: TimelineQuery, project info: Components.Schemas.ProjectInfo, branches: [Components.Schemas.BranchInfo],
        snapshots: [Components.Schemas.SnapshotInfo], backups: [Components.Schemas.BackupInfo], mayWrite: Bool, csrf: String
    ) {
        let project = info.name
        width = layout.width
        height = layout.height
        viewBox = "0 0 \(TimelineLayout.format(layout.width)) \(TimelineLayout.format(layout.height))"
        plotLeft = layout.plotLeft
        plotWidth = layout.plotWidth
        start = layout.start.timeIntervalSince1970.rounded()
        end = layout.end.timeIntervalSince1970.rounded()
        axisY = 16
        lanes = layout.lanes.map { lane in
            Lane(
                name: lane.name, label: lane.name.count > 20 ? String(lane.name.prefix(19)) + "…" : lane.name, y: lane.y, labelY: lane.labelY, startX: lane.startX, endX: lane.endX, checkedOut: lane.checkedOut, deleted: lane.deleted,
                href: lane.deleted ? "" : "/projects/\(ConsolePath.segment(project))/branches/\(ConsolePath.segment(lane.name))",
                band: lane.band.map { band in
                    Band(x: band.x, y: band.y, width: band.width, height: band.height, stretches: band.stretches.enumerated().map { index, stretch in
                        let point = TimelinePoint.instant(branch: lane.name, at: stretch.at)
                        return Stretch(
                            x: stretch.x, width: stretch.width, href: query.href { $0.point = point },
                            title: "\(lane.name) at \(Instants.utc(stretch.at)): query, branch, diff or restore here", at: Instants.iso(stretch.at), lane: lane.name,
                            focusable: index == band.stretches.count - 1)
                    })
                },
                fork: lane.fork)
        }
        dots = layout.dots.map { dot in
            let point = TimelinePoint.snapshot(dot.snapshot.id)
            let label = dot.snapshot.name.map { "\($0) (\(dot.snapshot.id))" } ?? dot.snapshot.id
            return Dot(
                id: dot.snapshot.id, x: dot.x, y: dot.y, radius: dot.radius, points: dot.points,
                circle: dot.shape == .circle || dot.shape == .ring, polygon: dot.shape != .circle && dot.shape != .ring,
                kind: dot.snapshot.kind, title: "Snapshot \(label), \(dot.snapshot.kind), of \(dot.snapshot.branch) at \(Instants.utc(dot.snapshot.createdAt))",
                href: query.href { $0.point = point }, selected: query.a == point ? "a" : query.b == point ? "b" : nil, open: query.point == point)
        }
        markers = layout.markers.map { marker in
            Marker(
                x: marker.x, y: marker.y, points: marker.points, status: marker.backup.status,
                title: "Backup \(marker.backup.id) of \(marker.backup.branch), \(marker.backup.status), \(Instants.utc(marker.backup.startedAt)), encrypted",
                href: query.href { $0.point = .backup(marker.backup.id) })
        }
        changes = layout.changes.map { mark in
            let what = mark.merge ? "Merge \(mark.change.source ?? "") into \(mark.change.branch)" : "\(mark.change.kind) of \(mark.change.branch)"
            return Change(
                x: mark.x, fromY: mark.fromY, toY: mark.toY, merge: mark.merge, kind: mark.change.kind.replacingOccurrences(of: ".", with: "-"),
                title: "\(what) at \(Instants.utc(mark.change.at))")
        }
        ticks = layout.ticks
        let snapshotByID = Dictionary(snapshots.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let backupByID = Dictionary(backups.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        /// Where a selected instant is drawn: a pin on its lane.
        func pin(_ point: TimelinePoint?, _ label: String) -> Pin? {
            guard case .instant(let branch, let at)? = point, let lane = layout.lane(branch) else { return nil }
            return Pin(x: layout.xPosition(at), y: lane.y, top: TimelineLayout.round(lane.y - 14), bottom: TimelineLayout.round(lane.y + 14), label: label)
        }
        pins = [pin(query.a, "A"), pin(query.b, "B"), query.point.flatMap { pin($0, "•") }].compactMap { $0 }
        window = "\(Instants.utc(layout.start)) → \(Instants.utc(layout.end))"
        counts = "\(layout.lanes.filter { !$0.deleted }.count) branches · \(layout.dots.count) snapshots · \(layout.markers.count) backups"
        search = query.search ?? ""
        hideAutomatic = query.hideAutomatic
        branch = query.branch
        a = query.a?.token
        b = query.b?.token
        ranges = TimelineQuery.ranges.map { Option(value: $0.key, label: $0.label, selected: $0.key == query.range) }
        self.mayWrite = mayWrite
        empty = branches.isEmpty
        let base = "/projects/\(ConsolePath.segment(project))"
        if query.a != nil || query.b != nil {
            let diff = query.a.flatMap { a in query.b.map { b in (a.diffSide, b.diffSide) } }
            selection = Selection(
                a: query.a.map { Self.describe($0, snapshots: snapshotByID) }, b: query.b.map { Self.describe($0, snapshots: snapshotByID) },
                clearHref: query.href { $0.a = nil; $0.b = nil },
                diffHref: diff.map { "\(base)/diff?from=\(FormFields.encode($0.0))&to=\(FormFields.encode($0.1))" },
                cli: diff.map { "branch diff \($0.0) \($0.1) --project \(project)" })
        }
        if let point = query.point {
            panel = Self.panel(
                point, query: query, project: project, branches: branches, snapshots: snapshotByID, backups: backupByID, mayWrite: mayWrite)
        }
    }

    static func describe(_ point: TimelinePoint, snapshots: [String: Components.Schemas.SnapshotInfo]) -> String {
        switch point {
        case .snapshot(let id):
            snapshots[id].map { "snapshot \($0.name ?? $0.id) of \($0.sourceBranch) (\(Instants.utc($0.createdAt)))" } ?? "snapshot \(id)"
        case .backup(let id): "backup \(id)"
        case .instant(let branch, let at): "\(branch) at \(Instants.utc(at))"
        }
    }

    static func panel(
        _ point: TimelinePoint, query: TimelineQuery, project: String, branches: [Components.Schemas.BranchInfo],
        snapshots: [String: Components.Schemas.SnapshotInfo], backups: [String: Components.Schemas.BackupInfo], mayWrite: Bool
    ) -> Panel {
        let base = "/projects/\(ConsolePath.segment(project))"
        let back = query.href()
        let branchNames = Set(branches.map(\.name))
        func diff(_ from: String, _ to: String) -> String { "\(base)/diff?from=\(FormFields.encode(from))&to=\(FormFields.encode(to))" }
        var title = describe(point, snapshots: snapshots)
        var detail = ""
        var queryHref: String?
        var branchHere: BranchHere?
        var diffs: [Link] = []
        var restoreHref: String?
        var cli = ""
        let action = "\(base)/branches"
        switch point {
        case .instant(let branch, let at):
            let iso = Instants.iso(at)
            detail = "The branch as it was at this second: its archived WAL replayed up to the instant."
            queryHref = "\(base)/sql?branch=\(FormFields.encode(branch))&at=\(FormFields.encode(iso))"
            branchHere = BranchHere(
                action: action, source: "time", from: branch, at: iso, snapshot: nil, name: suggestedName(branch, at), back: back,
                cli: BranchCreation.cli(project: project, name: suggestedName(branch, at), source: .time, from: branch, at: iso, snapshot: nil))
            diffs.append(Link(label: "\(branch) now", href: diff(point.diffSide, branch)))
            if let parent = branches.first(where: { $0.name == branch })?.parent { diffs.append(Link(label: "\(parent) now", href: diff(point.diffSide, parent))) }
            restoreHref = "\(base)/backups?restore_at=\(FormFields.encode(iso))&branch=\(FormFields.encode(branch))"
            cli = "branch create NAME --from \(branch) --at \(iso) --project \(project)"
        case .snapshot(let id):
            let snapshot = snapshots[id]
            let source = snapshot?.sourceBranch ?? ""
            if let snapshot {
                detail = "Kind \(snapshot.kind); \(snapshot.baseOf.isEmpty ? "no branch starts from it" : "base of \(snapshot.baseOf.joined(separator: ", "))")."
                queryHref = "\(base)/sql?branch=\(FormFields.encode(source))&at=\(FormFields.encode(Instants.iso(snapshot.createdAt)))"
                let name = suggestedName(source.isEmpty ? "snap" : source, snapshot.createdAt)
                branchHere = BranchHere(
                    action: action, source: "snapshot", from: nil, at: nil, snapshot: id, name: name, back: back,
                    cli: BranchCreation.cli(project: project, name: name, source: .snapshot, from: nil, at: nil, snapshot: id))
                if branchNames.contains(source) { diffs.append(Link(label: "\(source) now", href: diff(id, source))) }
            } else {
                title = "Snapshot \(id) (no longer exists)"
            }
            restoreHref = "\(base)/backups?restore=\(FormFields.encode("snapshot:\(id)"))"
            cli = "branch snapshot list --project \(project)"
        case .backup(let id):
            let backup = backups[id]
            if let backup {
                detail = "\(backup.kind) backup, \(backup.status), \(Formatting.bytes(backup.storedBytes)) stored, encrypted; of \(backup.branch) at \(Instants.utc(backup.startedAt))."
                if branchNames.contains(backup.branch) { diffs.append(Link(label: "\(backup.branch) now", href: diff(point.diffSide, backup.branch))) }
            }
            restoreHref = "\(base)/backups?restore=\(FormFields.encode("backup:\(id)"))"
            cli = "branch backup show \(id)"
        }
        if let a = query.a, a != point { diffs.append(Link(label: "A (\(describe(a, snapshots: snapshots)))", href: diff(a.diffSide, point.diffSide))) }
        if let b = query.b, b != point { diffs.append(Link(label: "B (\(describe(b, snapshots: snapshots)))", href: diff(point.diffSide, b.diffSide))) }
        return Panel(
            title: title, detail: detail, queryHref: queryHref,
            schemaHref: queryHref.map { $0.replacingOccurrences(of: "\(base)/sql?", with: "\(base)/database?") },
            tablesHref: queryHref.map { $0.replacingOccurrences(of: "\(base)/sql?", with: "\(base)/tables?") },
            overviewHref: queryHref.flatMap { href in href.range(of: "&at=").map { base + "?at=" + href[$0.upperBound...] } },
            branchHere: mayWrite ? branchHere : nil, diffs: diffs, hasDiffs: !diffs.isEmpty,
            restoreHref: mayWrite ? restoreHref : nil, selectA: query.href { $0.a = point }, selectB: query.href { $0.b = point },
            closeHref: query.href { $0.point = nil }, cli: cli)
    }

    /// `main-1430` style: a valid branch name (at most 40 characters) that says where it came from.
    static func suggestedName(_ branch: String, _ at: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "MMdd-HHmmss"
        return String(branch.prefix(28)) + "-" + formatter.string(from: at)
    }
}
