package import Foundation

/// Where the schema visualizer draws each table and each foreign key: by default tables in layers
/// (a table right of every table it references, so foreign keys point left), stacked in each
/// layer; or in a grid, in the same order, about as wide as it is tall (many tables that barely
/// reference each other make one very tall layer). Foreign keys are curves from the referencing
/// column's row to the referenced table's header. Pure, so it is unit-tested; `database.mustache`
/// writes the SVG.
package struct SchemaLayout: Sendable {
    /// How the tables are placed (the page's `layout`).
    package enum Arrangement: String, Sendable, CaseIterable {
        case references
        case grid
    }

    package struct ForeignKey: Sendable {
        package var from: String
        package var column: String
        package var to: String

        package init(from: String, column: String, to: String) {
            self.from = from
            self.column = column
            self.to = to
        }
    }

    package struct Box: Sendable {
        package var name: String
        package var x: Double
        package var y: Double
        package var width: Double
        package var height: Double
        package var titleY: Double
        package var rows: [Row]
        /// "found" or "dimmed" when the page was asked to find a table; "" otherwise.
        package var state = ""
    }

    package struct Row: Sendable {
        package var text: String
        package var y: Double
    }

    package struct Edge: Sendable {
        package var label: String
        package var path: String
    }

    package static let boxWidth = 220.0, header = 26.0, rowHeight = 18.0, gapX = 90.0, gapY = 28.0, margin = 16.0, maxRows = 14

    package var boxes: [Box]
    package var edges: [Edge]
    package var width: Double
    package var height: Double

    /// `tables`: name and column lines in order; `keys`: references between them (others ignored).
    package init(tables: [(name: String, columns: [String])], keys: [ForeignKey], arrangement: Arrangement = .references) {
        let names = Set(tables.map(\.name))
        let keys = keys.filter { names.contains($0.from) && names.contains($0.to) }
        var layer = Dictionary(uniqueKeysWithValues: tables.map { ($0.name, 0) })
        // Longest path from an unreferencing table; at most `tables.count` rounds, so cycles end.
        for _ in 0..<max(tables.count, 1) {
            var changed = false
            for key in keys where key.from != key.to {
                let wanted = min(layer[key.to, default: 0] + 1, tables.count)
                if layer[key.from, default: 0] < wanted {
                    layer[key.from] = wanted
                    changed = true
                }
            }
            if !changed { break }
        }
        var columnHeights: [Int: Double] = [:]
        var boxes: [Box] = []
        var rowY: [String: [String: Double]] = [:]
        // The grid: the layers' order, row by row, each row below the tallest box of the one before.
        let ordered = arrangement == .grid
            ? tables.enumerated().sorted { (layer[$0.element.name, default: 0], $0.offset) < (layer[$1.element.name, default: 0], $1.offset) }.map(\.element)
            : tables
        let perRow = max(1, Int(Double(tables.count).squareRoot().rounded(.up)))
        var rowTop = Self.margin
        var rowBottom = Self.margin
        for (index, table) in ordered.enumerated() {
            let column = arrangement == .grid ? index % perRow : layer[table.name, default: 0]
            if arrangement == .grid && column == 0 && index > 0 { rowTop = rowBottom + Self.gapY }
            let x = Self.margin + Double(column) * (Self.boxWidth + Self.gapX)
            let y = arrangement == .grid ? rowTop : columnHeights[column, default: Self.margin]
            var lines = Array(table.columns.prefix(Self.maxRows))
            if table.columns.count > Self.maxRows { lines.append("… \(table.columns.count - Self.maxRows) more") }
            let rows = lines.enumerated().map { Row(text: $1, y: y + Self.header + Self.rowHeight * Double($0 + 1) - 4) }
            let height = Self.header + Self.rowHeight * Double(lines.count) + 6
            rowY[table.name] = Dictionary(
                table.columns.prefix(Self.maxRows).enumerated().map { (String($1.split(separator: " ").first ?? ""), y + Self.header + Self.rowHeight * (Double($0) + 0.5)) },
                uniquingKeysWith: { first, _ in first })
            boxes.append(Box(name: table.name, x: x, y: y, width: Self.boxWidth, height: height, titleY: y + 18, rows: rows))
            columnHeights[column] = y + height + Self.gapY
            rowBottom = max(rowBottom, y + height)
        }
        let byName = Dictionary(boxes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        edges = keys.compactMap { key in
            guard let source = byName[key.from], let target = byName[key.to] else { return nil }
            let startY = rowY[key.from]?[key.column] ?? source.y + Self.header / 2
            let endY = target.y + Self.header / 2
            let c = ChartGeometry.coordinate
            let path: String
            if source.x > target.x {
                let (sx, ex) = (source.x, target.x + target.width)
                let mid = (sx + ex) / 2
                path = "M\(c(sx)) \(c(startY)) C\(c(mid)) \(c(startY)) \(c(mid)) \(c(endY)) \(c(ex)) \(c(endY))"
            } else if source.x < target.x {
                // Only in a grid: the referenced table is to the right.
                let (sx, ex) = (source.x + source.width, target.x)
                let mid = (sx + ex) / 2
                path = "M\(c(sx)) \(c(startY)) C\(c(mid)) \(c(startY)) \(c(mid)) \(c(endY)) \(c(ex)) \(c(endY))"
            } else {
                // Same layer (or a cycle): loop out on the right.
                let (sx, ex) = (source.x + source.width, target.x + target.width)
                let out = max(sx, ex) + Self.gapX / 2
                path = "M\(c(sx)) \(c(startY)) C\(c(out)) \(c(startY)) \(c(out)) \(c(endY)) \(c(ex)) \(c(endY))"
            }
            return Edge(label: "\(key.from).\(key.column) → \(key.to)", path: path)
        }
        self.boxes = boxes
        width = (boxes.map { $0.x + $0.width }.max() ?? 0) + Self.margin + Self.gapX / 2
        height = (boxes.map { $0.y + $0.height }.max() ?? 0) + Self.margin
    }
}
