@testable import BranchConsole
import Foundation
import Testing

/// Where the timeline puts lanes, forks, dots, bands, markers and ticks (Pages/Timeline/TimelineLayout.swift).
@Suite("Console: timeline layout")
struct ConsoleTimelineLayoutTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    func ago(_ seconds: TimeInterval) -> Date { now.addingTimeInterval(-seconds) }

    var branches: [TimelineLayout.Branch] {
        [
            .init(name: "main", parent: nil, createdAt: ago(3600), earliestRestorableAt: ago(3600), checkedOut: true),
            .init(name: "zeta", parent: "main", createdAt: ago(600), earliestRestorableAt: ago(600), checkedOut: false),
            .init(name: "feature", parent: "main", createdAt: ago(1800), earliestRestorableAt: ago(1800), checkedOut: false),
            .init(name: "child", parent: "feature", createdAt: ago(900), earliestRestorableAt: nil, checkedOut: false),
        ]
    }

    @Test("lanes come in tree order, children under their parent by creation, one lane apart")
    func laneOrder() {
        let layout = TimelineLayout(branches: branches, snapshots: [], now: now)
        #expect(layout.lanes.map(\.name) == ["main", "feature", "child", "zeta"])
        let ys = layout.lanes.map(\.y)
        #expect(zip(ys, ys.dropFirst()).allSatisfy { $1 - $0 == layout.geometry.laneHeight })
        #expect(layout.height == layout.geometry.top + 4 * layout.geometry.laneHeight + layout.geometry.bottom)
    }

    @Test("a fork edge leaves the parent's lane where the branch was created")
    func forks() throws {
        let layout = TimelineLayout(branches: branches, snapshots: [], now: now)
        let main = try #require(layout.lane("main"))
        let feature = try #require(layout.lane("feature"))
        let child = try #require(layout.lane("child"))
        #expect(main.fork == nil)
        let fork = try #require(feature.fork)
        #expect(fork.fromY == main.y && fork.toY == feature.y && fork.parent == "main")
        #expect(fork.x == layout.xPosition(ago(1800)) && feature.startX == fork.x)
        #expect(child.fork?.fromY == feature.y)
        #expect(main.startX < feature.startX && feature.startX < child.startX)
    }

    @Test("time runs left to right: now is the right edge, the oldest thing near the left")
    func scale() {
        let layout = TimelineLayout(branches: branches, snapshots: [], now: now)
        #expect(layout.xPosition(now) == layout.plotLeft + layout.plotWidth)
        #expect(layout.xPosition(ago(3600)) > layout.plotLeft)
        #expect(layout.xPosition(ago(3600)) < layout.plotLeft + 0.05 * layout.plotWidth)
        #expect(layout.xPosition(ago(100_000)) == layout.plotLeft)
        let middle = layout.instant(atX: layout.xPosition(ago(1800)))
        #expect(abs(middle.timeIntervalSince(ago(1800))) < 10)
    }

    @Test("each snapshot is one dot on its branch's lane, shaped by kind; deleted branches get their own lane")
    func dots() throws {
        let snapshots: [TimelineLayout.Snapshot] = [
            .init(id: "m1", name: "before", kind: "manual", branch: "main", createdAt: ago(3000)),
            .init(id: "a1", name: nil, kind: "automatic", branch: "main", createdAt: ago(2000)),
            .init(id: "b1", name: nil, kind: "base", branch: "main", createdAt: ago(1800)),
            .init(id: "p1", name: nil, kind: "pre-restore", branch: "feature", createdAt: ago(1000)),
            .init(id: "k1", name: nil, kind: "backup", branch: "feature", createdAt: ago(500)),
            .init(id: "gone", name: nil, kind: "manual", branch: "removed", createdAt: ago(400)),
        ]
        let layout = TimelineLayout(branches: branches, snapshots: snapshots, now: now)
        #expect(layout.dots.count == snapshots.count)
        let byID = Dictionary(uniqueKeysWithValues: layout.dots.map { ($0.snapshot.id, $0) })
        #expect(byID["m1"]?.shape == .circle && byID["a1"]?.shape == .circle && byID["b1"]?.shape == .ring)
        #expect(byID["p1"]?.shape == .diamond && byID["k1"]?.shape == .square)
        #expect(try #require(byID["a1"]).radius < (try #require(byID["m1"])).radius)
        #expect(byID["m1"]?.y == layout.lane("main")?.y && byID["p1"]?.y == layout.lane("feature")?.y)
        #expect(byID["p1"]?.points.split(separator: " ").count == 4)
        #expect(layout.lanes.last?.name == TimelineLayout.deletedLane && layout.lanes.last?.deleted == true)
        #expect(byID["gone"]?.y == layout.lanes.last?.y)
        #expect(try #require(byID["m1"]).x < (try #require(byID["a1"])).x)
    }

    @Test("the point-in-time band runs from the earliest restorable instant to now, cut into stretches that cover it")
    func band() throws {
        let layout = TimelineLayout(branches: branches, snapshots: [], now: now)
        let main = try #require(layout.lane("main")?.band)
        #expect(main.x == layout.xPosition(ago(3600)))
        #expect(abs(main.x + main.width - (layout.plotLeft + layout.plotWidth)) < 0.2)
        let covered = main.stretches.map(\.width).reduce(0, +)
        #expect(abs(covered - main.width) < 1)
        #expect(main.stretches.allSatisfy { $0.at >= ago(3600) && $0.at <= now })
        #expect(zip(main.stretches, main.stretches.dropFirst()).allSatisfy { $0.at < $1.at })
        // A younger branch's band is shorter and has fewer stretches; a branch with no window uses its creation.
        let zeta = try #require(layout.lane("zeta")?.band)
        #expect(zeta.width < main.width && zeta.stretches.count < main.stretches.count)
        #expect(layout.lane("child")?.band?.x == layout.xPosition(ago(900)))
    }

    @Test("backups are markers below their lane; merges join two lanes; restores mark one")
    func marks() throws {
        let layout = TimelineLayout(
            branches: branches, snapshots: [],
            backups: [.init(id: "bk1", branch: "main", startedAt: ago(1200), status: "succeeded")],
            changes: [
                .init(kind: "branch.merge", branch: "main", source: "feature", at: ago(300)),
                .init(kind: "snapshot.restore", branch: "feature", source: nil, at: ago(200)),
                .init(kind: "snapshot.restore", branch: "hidden", source: nil, at: ago(200)),
            ],
            now: now)
        let marker = try #require(layout.markers.first)
        #expect(marker.y > (layout.lane("main")?.y ?? 0) && marker.x == layout.xPosition(ago(1200)))
        #expect(layout.changes.count == 2)
        let merge = try #require(layout.changes.first { $0.merge })
        #expect(merge.fromY == layout.lane("feature")?.y && merge.toY == layout.lane("main")?.y)
        #expect(layout.changes.first { !$0.merge }?.toY == layout.lane("feature")?.y)
    }

    @Test("a window (since) leaves out what happened before it and starts the axis there")
    func window() {
        let snapshots: [TimelineLayout.Snapshot] = [
            .init(id: "old", name: nil, kind: "manual", branch: "main", createdAt: ago(3000)),
            .init(id: "new", name: nil, kind: "manual", branch: "main", createdAt: ago(300)),
        ]
        let layout = TimelineLayout(branches: branches, snapshots: snapshots, now: now, since: ago(600))
        #expect(layout.start == ago(600))
        #expect(layout.dots.map(\.snapshot.id) == ["new"])
        #expect(layout.lane("feature")?.fork == nil)
        #expect(layout.lane("main")?.band?.x == layout.plotLeft)
    }

    @Test("axis ticks are round instants in UTC, at most 8 and inside the plot")
    func ticks() {
        let layout = TimelineLayout(branches: branches, snapshots: [], now: now)
        #expect(!layout.ticks.isEmpty && layout.ticks.count <= 8)
        #expect(layout.ticks.allSatisfy { $0.x >= layout.plotLeft && $0.x <= layout.plotLeft + layout.plotWidth })
        #expect(layout.ticks.allSatisfy { $0.label.count == 5 && $0.label.contains(":") })
    }

    @Test("an empty project or a project born a moment ago still has a sensible scale")
    func degenerate() {
        let layout = TimelineLayout(branches: [.init(name: "main", parent: nil, createdAt: now, earliestRestorableAt: now, checkedOut: true)], snapshots: [], now: now)
        #expect(layout.end.timeIntervalSince(layout.start) >= 60)
        #expect(layout.lanes.count == 1 && layout.lanes[0].band == nil)
        #expect(TimelineLayout(branches: [], snapshots: [], now: now).lanes.isEmpty)
    }

    @Test("points are named in the URL and for the diff API")
    func points() {
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        let instant = TimelinePoint("main@2027-01-15T08:00:00Z")
        #expect(instant == .instant(branch: "main", at: at))
        #expect(instant?.diffSide == "main@2027-01-15T08:00:00Z")
        #expect(TimelinePoint("snapshot:9c41e07a")?.diffSide == "9c41e07a")
        #expect(TimelinePoint("backup:20250115T120000-3f9a")?.diffSide == "backup:20250115T120000-3f9a")
        #expect(TimelinePoint("main@2027-01-15T08:00:00.250Z") == .instant(branch: "main", at: at))
        #expect(TimelinePoint("@2027-01-15T08:00:00Z") == nil && TimelinePoint("snapshot:") == nil && TimelinePoint("nonsense") == nil)
        var query = TimelineQuery(project: "app", parameters: FormFields("at=2027-01-15T08:00:00Z&lane=feature&hide_auto=1"), defaultLane: "main")
        #expect(query.point == .instant(branch: "feature", at: at) && query.hideAutomatic)
        query.a = .snapshot("s1")
        #expect(query.url == "/projects/app/timeline?hide_auto=1&a=snapshot%3As1&at=2027-01-15T08%3A00%3A00Z&lane=feature")
        let defaulted = TimelineQuery(project: "app", parameters: FormFields("at=2027-01-15T08:00"), defaultLane: "main")
        #expect(defaulted.point == .instant(branch: "main", at: at))
    }
}
