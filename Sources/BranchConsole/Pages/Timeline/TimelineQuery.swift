import Foundation

/// Everything the timeline shows is in its URL: the branch, the filters (search, hide automatic
/// snapshots, how far back), the two selected points and the open point panel.
struct TimelineQuery: Sendable {
    static let ranges: [(key: String, label: String, seconds: TimeInterval?)] = [
        ("all", "Everything", nil), ("1h", "Last hour", 3600), ("6h", "Last 6 hours", 6 * 3600), ("1d", "Last day", 86400),
        ("7d", "Last 7 days", 7 * 86400), ("30d", "Last 30 days", 30 * 86400),
    ]

    var project: String
    var branch: String?
    var search: String?
    var hideAutomatic: Bool
    var range: String
    var a: TimelinePoint?
    var b: TimelinePoint?
    var point: TimelinePoint?

    init(project: String, parameters: FormFields, defaultLane: String) {
        self.project = project
        branch = parameters.text("branch")
        search = parameters.text("q")
        hideAutomatic = parameters["hide_auto"].map { $0 == "1" || $0 == "on" } ?? false
        let range = parameters["range"] ?? "all"
        self.range = Self.ranges.contains { $0.key == range } ? range : "all"
        a = parameters.text("a").flatMap(TimelinePoint.init)
        b = parameters.text("b").flatMap(TimelinePoint.init)
        if let text = parameters.text("point") {
            point = TimelinePoint(text)
        } else if let at = parameters.text("at").flatMap(Instants.parse) {
            point = .instant(branch: parameters.text("lane") ?? branch ?? defaultLane, at: Date(timeIntervalSince1970: at.timeIntervalSince1970.rounded(.down)))
        }
    }

    var since: TimeInterval? { Self.ranges.first { $0.key == range }?.seconds ?? nil }

    /// The page's URL with some of its state changed.
    func href(_ change: (inout TimelineQuery) -> Void = { _ in }) -> String {
        var query = self
        change(&query)
        return query.url
    }

    var url: String {
        var items: [(String, String)] = []
        if let branch { items.append(("branch", branch)) }
        if let search { items.append(("q", search)) }
        if hideAutomatic { items.append(("hide_auto", "1")) }
        if range != "all" { items.append(("range", range)) }
        if let a { items.append(("a", a.token)) }
        if let b { items.append(("b", b.token)) }
        switch point {
        case .instant(let lane, let at)?:
            items.append(("at", Instants.iso(at)))
            items.append(("lane", lane))
        case let point?: items.append(("point", point.token))
        case nil: break
        }
        let base = "/projects/\(ConsolePath.segment(project))/timeline"
        return items.isEmpty ? base : base + "?" + items.map { "\($0.0)=\(FormFields.encode($0.1))" }.joined(separator: "&")
    }
}
