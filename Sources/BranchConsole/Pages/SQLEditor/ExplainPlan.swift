import Foundation

/// One statement's plan from `EXPLAIN (FORMAT JSON)`, as the SQL editor's tree shows it: the
/// nodes in order, each with its depth, what it reads and how, the planner's estimate and, after
/// ANALYZE, what really happened. The node where the time (or, without ANALYZE, the cost) goes is
/// marked, and so is an estimate ten times off.
struct ExplainPlan: Sendable, Equatable {
    struct Node: Sendable, Equatable {
        /// 0 for the root; the page indents by it (`depth-N`, capped at 12).
        var depth: Int
        var depthClass: String
        var operation: String
        /// "on public.items i", "using items_pkey", the join type: what the node works on.
        var target: String
        /// Conditions and keys, one per line ("Filter: (v > 10)").
        var details: [String]
        var estimatedRows: String
        var cost: String
        var actualRows: String?
        var loops: String?
        /// Time spent in this node alone (its total less its children's), in ms, after ANALYZE.
        var selfTime: String?
        /// This node's share of the plan's time (after ANALYZE) or of its cost, 0...1.
        var share: Double
        var sharePercent: String
        /// The node with the largest share, when that share is at least a fifth.
        var hot: Bool
        /// "estimated 10, got 5,000": an estimate ten times off (after ANALYZE).
        var misestimate: String?
        /// The rows it hands its parent: actual rows times loops after ANALYZE, else the estimate.
        var flow: Double = 0
    }

    var title: String
    var analyzed: Bool
    var nodes: [Node]
    var planning: String?
    var execution: String?
    /// The plan as a tree diagram (`PlanDiagram`).
    var diagramHTML: HTML?

    struct Unreadable: Error {}

    /// The plan in `json` (the single value of `EXPLAIN (FORMAT JSON)`: an array of one object with `Plan`).
    static func parse(_ json: String, title: String) throws -> ExplainPlan {
        guard let array = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [Any],
            let top = array.first as? [String: Any], let root = top["Plan"] as? [String: Any]
        else { throw Unreadable() }
        let analyzed = root["Actual Total Time"] != nil
        var flat: [(depth: Int, node: [String: Any])] = []
        func walk(_ node: [String: Any], depth: Int) {
            flat.append((depth, node))
            for child in node["Plans"] as? [[String: Any]] ?? [] { walk(child, depth: depth + 1) }
        }
        walk(root, depth: 0)
        // Self measure: a node's own time (total × loops, less its children's) or own cost.
        func measure(_ node: [String: Any]) -> Double {
            analyzed ? number(node["Actual Total Time"]) * max(number(node["Actual Loops"]), 1) : number(node["Total Cost"])
        }
        let selves = flat.map { _, node in
            max(0, measure(node) - (node["Plans"] as? [[String: Any]] ?? []).map(measure).reduce(0, +))
        }
        let total = max(selves.reduce(0, +), .leastNonzeroMagnitude)
        let hottest = selves.indices.max { selves[$0] < selves[$1] }
        let nodes = flat.enumerated().map { index, entry in
            let node = entry.node
            let share = selves[index] / total
            let estimated = number(node["Plan Rows"])
            let actual = analyzed ? number(node["Actual Rows"]) : nil
            return Node(
                depth: entry.depth, depthClass: "depth-\(min(entry.depth, 12))", operation: operation(node), target: target(node), details: details(node),
                estimatedRows: rows(estimated), cost: String(format: "%.2f", number(node["Total Cost"])),
                actualRows: actual.map(rows), loops: analyzed ? rows(number(node["Actual Loops"])) : nil,
                selfTime: analyzed ? String(format: "%.3f", selves[index]) : nil,
                share: share, sharePercent: String(format: "%.0f%%", share * 100), hot: index == hottest && share >= 0.2,
                misestimate: actual.flatMap { misestimate(estimated: estimated, actual: $0) },
                flow: actual.map { ($0 * max(number(node["Actual Loops"]), 1)).rounded() } ?? estimated)
        }
        var plan = ExplainPlan(
            title: title, analyzed: analyzed, nodes: nodes,
            planning: top["Planning Time"].map { String(format: "%.3f ms", number($0)) },
            execution: top["Execution Time"].map { String(format: "%.3f ms", number($0)) })
        plan.diagramHTML = PlanDiagram(plan).html
        return plan
    }

    /// "Index Scan", "Hash Join", "Aggregate (Hashed)", "Parallel Seq Scan", "Update".
    static func operation(_ node: [String: Any]) -> String {
        // A data change is a ModifyTable node whose Operation names it, as the text format does.
        var name = node["Node Type"] as? String == "ModifyTable" ? node["Operation"] as? String ?? "ModifyTable" : node["Node Type"] as? String ?? "?"
        if let strategy = node["Strategy"] as? String, strategy != "Plain" { name += " (\(strategy))" }
        if node["Parallel Aware"] as? Bool == true { name = "Parallel " + name }
        return name
    }

    static func target(_ node: [String: Any]) -> String {
        var parts: [String] = []
        if let relation = node["Relation Name"] as? String {
            let schema = (node["Schema"] as? String).map { $0 + "." } ?? ""
            let alias = (node["Alias"] as? String).flatMap { $0 == relation ? nil : " " + $0 } ?? ""
            parts.append("on \(schema)\(relation)\(alias)")
        } else if let name = node["CTE Name"] as? String ?? node["Function Name"] as? String {
            parts.append("on \(name)")
        }
        if let index = node["Index Name"] as? String { parts.append("using \(index)") }
        if let join = node["Join Type"] as? String, join != "Inner" { parts.append("\(join.lowercased()) join") }
        return parts.joined(separator: " ")
    }

    /// The keys Postgres explains a node by, in the order EXPLAIN's text format prints them.
    static let detailKeys = [
        "Hash Cond", "Merge Cond", "Index Cond", "Recheck Cond", "Join Filter", "Filter", "Rows Removed by Filter",
        "Rows Removed by Join Filter", "Sort Key", "Sort Method", "Group Key", "Heap Fetches", "Workers Planned", "Workers Launched",
    ]

    static func details(_ node: [String: Any]) -> [String] {
        detailKeys.compactMap { key in
            switch node[key] {
            case let text as String: "\(key): \(text)"
            case let list as [Any]: "\(key): " + list.map { "\($0)" }.joined(separator: ", ")
            case let number as NSNumber: "\(key): \(number)"
            default: nil
            }
        }
    }

    /// Said when the estimate is ten times off either way (a row or more apart).
    static func misestimate(estimated: Double, actual: Double) -> String? {
        let low = max(min(estimated, actual), 1), high = max(estimated, actual)
        guard high / low >= 10, abs(high - low) >= 1 else { return nil }
        return "estimated \(rows(estimated)), got \(rows(actual))"
    }

    /// A row count as text: grouped by thousands, or in scientific notation past 10^15 (the
    /// planner's estimates reach 10^100, far beyond an Int).
    static func rows(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e15 else { return String(format: "%.3g", value) }
        return Formatting.count(Int(value.rounded(.down)))
    }

    static func number(_ value: Any?) -> Double {
        switch value {
        case let number as NSNumber: number.doubleValue
        case let text as String: Double(text) ?? 0
        default: 0
        }
    }
}
