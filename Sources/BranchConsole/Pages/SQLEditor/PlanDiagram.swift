import Foundation

/// A plan drawn as a tree in SVG, the way plan visualizers show it: a box per node with the root
/// on top and each node's children side by side below it, joined by lines as thick as the rows
/// that flow up them (log scale), each box with a bar for its share of the time (or cost) and the
/// slowest one outlined. Laid out here (pure, unit-tested); the table below it says the same in
/// text, which is what screen readers are pointed to.
struct PlanDiagram: Sendable, Equatable {
    struct Box: Sendable, Equatable {
        var x: Double
        var y: Double
        var node: ExplainPlan.Node
    }

    /// From the bottom middle of the parent's box to the top middle of the child's.
    struct Edge: Sendable, Equatable {
        var fromX: Double
        var fromY: Double
        var toX: Double
        var toY: Double
        var width: Double
        var rows: String
    }

    static let boxWidth = 196.0
    static let boxHeight = 60.0
    static let gapX = 18.0
    static let gapY = 36.0
    static let margin = 8.0
    /// Characters of a box's line before it is cut with "…" (the full text is in its tooltip).
    static let lineLength = 30

    var width: Double
    var height: Double
    var boxes: [Box]
    var edges: [Edge]

    /// `plan.nodes` are in pre-order with their depths, which is enough to rebuild the tree: a
    /// node's parent is the nearest earlier node one level up.
    init(_ plan: ExplainPlan) {
        let nodes = plan.nodes
        var children = Array(repeating: [Int](), count: nodes.count)
        var path: [Int] = []
        for (index, node) in nodes.enumerated() {
            path = Array(path.prefix(node.depth))
            if let parent = path.last { children[parent].append(index) }
            path.append(index)
        }
        // Leaves side by side in pre-order; a parent centred over its first and last child.
        var centers = Array(repeating: 0.0, count: nodes.count)
        var leaves = 0
        func place(_ index: Int) {
            if let first = children[index].first, let last = children[index].last {
                for child in children[index] { place(child) }
                centers[index] = (centers[first] + centers[last]) / 2
            } else {
                centers[index] = Self.margin + Double(leaves) * (Self.boxWidth + Self.gapX) + Self.boxWidth / 2
                leaves += 1
            }
        }
        if !nodes.isEmpty { place(0) }
        let depth = nodes.map(\.depth).max() ?? 0
        func top(_ index: Int) -> Double { Self.margin + Double(nodes[index].depth) * (Self.boxHeight + Self.gapY) }
        boxes = nodes.indices.map { Box(x: centers[$0] - Self.boxWidth / 2, y: top($0), node: nodes[$0]) }
        edges = nodes.indices.flatMap { parent in
            children[parent].map { child in
                Edge(
                    fromX: centers[parent], fromY: top(parent) + Self.boxHeight, toX: centers[child], toY: top(child),
                    width: min(1 + 1.5 * log10(1 + nodes[child].flow), 9), rows: ExplainPlan.rows(nodes[child].flow))
            }
        }
        width = 2 * Self.margin + Double(max(leaves, 1)) * (Self.boxWidth + Self.gapX) - Self.gapX
        height = 2 * Self.margin + Double(depth + 1) * (Self.boxHeight + Self.gapY) - Self.gapY
    }

    static func cut(_ text: String) -> String {
        text.count > lineLength ? String(text.prefix(lineLength - 1)) + "…" : text
    }

    var html: HTML {
        var html = HTML()
        func number(_ value: Double) { html.text(ChartGeometry.coordinate(value)) }
        html.markup("<svg class=\"plan-diagram\" viewBox=\"0 0 ")
        number(width)
        html.markup(" ")
        number(height)
        html.markup("\" width=\"")
        number(width)
        html.markup("\" height=\"")
        number(height)
        html.markup("\" aria-hidden=\"true\">")
        for edge in edges {
            let middle = (edge.fromY + edge.toY) / 2
            html.markup("<path class=\"plan-edge\" d=\"M")
            number(edge.fromX)
            html.markup(" ")
            number(edge.fromY)
            html.markup(" C")
            number(edge.fromX)
            html.markup(" ")
            number(middle)
            html.markup(" ")
            number(edge.toX)
            html.markup(" ")
            number(middle)
            html.markup(" ")
            number(edge.toX)
            html.markup(" ")
            number(edge.toY)
            html.markup("\" stroke-width=\"")
            number(edge.width)
            html.markup("\"><title>")
            html.text(edge.rows)
            html.markup(" rows</title></path>")
        }
        for box in boxes {
            let node = box.node
            html.markup("<g class=\"plan-box")
            if node.hot { html.markup(" hot") }
            html.markup("\"><title>")
            html.text(([node.operation + (node.target.isEmpty ? "" : " " + node.target)] + node.details).joined(separator: "\n"))
            html.markup("</title><rect class=\"box\" rx=\"6\" x=\"")
            number(box.x)
            html.markup("\" y=\"")
            number(box.y)
            html.markup("\" width=\"")
            number(Self.boxWidth)
            html.markup("\" height=\"")
            number(Self.boxHeight)
            html.markup("\"></rect><rect class=\"share\" x=\"")
            number(box.x + 1)
            html.markup("\" y=\"")
            number(box.y + Self.boxHeight - 6)
            html.markup("\" width=\"")
            number(max((Self.boxWidth - 2) * node.share, 0))
            html.markup("\" height=\"5\"></rect>")
            let lines: [(StaticString, String)] = [
                ("op", node.operation), ("target", node.target.isEmpty ? " " : node.target),
                ("figures", (node.actualRows.map { "rows \($0) (est. \(node.estimatedRows))" } ?? "est. rows \(node.estimatedRows)") + " · " + node.sharePercent),
            ]
            for (offset, line) in lines.enumerated() {
                html.markup("<text class=\"")
                html.markup(line.0)
                html.markup("\" x=\"")
                number(box.x + 8)
                html.markup("\" y=\"")
                number(box.y + 16 + Double(offset) * 15)
                html.markup("\">")
                html.text(Self.cut(line.1))
                html.markup("</text>")
            }
            html.markup("</g>")
        }
        html.markup("</svg>")
        return html
    }
}
