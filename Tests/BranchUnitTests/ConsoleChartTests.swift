@testable import BranchConsole
import Foundation
import Testing

/// The geometry behind the observability charts and the schema map: pure functions from samples
/// (or tables and foreign keys) to SVG coordinates.
@Suite("Console charts and schema layout")
struct ConsoleChartTests {
    let start = Date(timeIntervalSince1970: 1_000_000)

    @Test("samples become a path scaled to the window and a nice maximum")
    func path() {
        let points = [0, 30, 60].map { ChartGeometry.Point(at: start.addingTimeInterval(Double($0)), value: Double($0) / 2) }
        let chart = ChartGeometry(points: points, from: start, to: start.addingTimeInterval(60), width: 600, height: 100, floor: 1)
        #expect(chart.maximum == 50)
        #expect(chart.path == "M0 100 L300 70 L600 40")
        #expect(!chart.isEmpty)
        #expect(chart.gridlines.map(\.y) == [100, 75, 50, 25, 0])
        #expect(chart.gridlines.last?.label == "50")
    }

    @Test("a missing value breaks the line; points outside the window are left out")
    func gaps() {
        let points = [
            ChartGeometry.Point(at: start.addingTimeInterval(-10), value: 5),
            .init(at: start, value: 1), .init(at: start.addingTimeInterval(10), value: nil), .init(at: start.addingTimeInterval(20), value: 1),
        ]
        let chart = ChartGeometry(points: points, from: start, to: start.addingTimeInterval(20), width: 200, height: 10, floor: 1)
        #expect(chart.path == "M0 0 M200 0")
    }

    @Test("no samples: an empty chart over the floor; a given scale wins")
    func emptyAndScale() {
        let empty = ChartGeometry(points: [], from: start, to: start.addingTimeInterval(60), floor: 10)
        #expect(empty.isEmpty && empty.path.isEmpty && empty.maximum == 10)
        let scaled = ChartGeometry(points: [.init(at: start, value: 500)], from: start, to: start.addingTimeInterval(1), height: 100, scale: 1000)
        #expect(scaled.maximum == 1000 && scaled.path == "M0 50")
    }

    @Test("nice ceilings and compact labels")
    func nice() {
        #expect(ChartGeometry.niceCeiling(0) == 1)
        #expect(ChartGeometry.niceCeiling(7) == 10)
        #expect(ChartGeometry.niceCeiling(1.5) == 2)
        #expect(ChartGeometry.niceCeiling(2.2) == 2.5)
        #expect(ChartGeometry.niceCeiling(420) == 500)
        #expect(ChartGeometry.niceCeiling(100) == 100)
        #expect(ChartGeometry.binaryCeiling(3_000_000) == 4_194_304)
        #expect(ChartGeometry.binaryCeiling(1024) == 1024)
        #expect(ChartGeometry(points: [.init(at: start, value: 1500)], from: start, to: start, binary: true).maximum == 2048)
        #expect(ChartGeometry.compact(1500) == "1.5k")
        #expect(ChartGeometry.compact(2_000_000) == "2M")
        #expect(ChartGeometry.compact(0.25) == "0.25")
        #expect(ChartGeometry.coordinate(12.345) == "12.3")
        #expect(ChartGeometry.coordinate(12.0) == "12")
    }

    @Test("schema map: referenced tables to the left, foreign keys drawn between the boxes")
    func schemaLayout() {
        let layout = SchemaLayout(
            tables: [("orders", ["id bigint", "customer_id bigint"]), ("customers", ["id bigint"]), ("lines", ["order_id bigint"])],
            keys: [.init(from: "orders", column: "customer_id", to: "customers"), .init(from: "lines", column: "order_id", to: "orders"),
                   .init(from: "lines", column: "x", to: "elsewhere")])
        let x = Dictionary(uniqueKeysWithValues: layout.boxes.map { ($0.name, $0.x) })
        #expect(x["customers"]! < x["orders"]! && x["orders"]! < x["lines"]!)
        #expect(layout.edges.count == 2)
        #expect(layout.edges.allSatisfy { $0.path.hasPrefix("M") && $0.path.contains(" C") })
        #expect(layout.width >= x["lines"]! + SchemaLayout.boxWidth)
    }

    @Test("schema map as a grid: the layers' order row by row, about as wide as tall, each row below the tallest box before it")
    func schemaGrid() {
        let tables = (1...5).map { ("t\($0)", Array(repeating: "c int", count: $0)) } + [("root", ["id int"])]
        let keys = (1...5).map { SchemaLayout.ForeignKey(from: "t\($0)", column: "c", to: "root") }
        let layout = SchemaLayout(tables: tables, keys: keys, arrangement: .grid)
        // Six tables: three a row; root (layer 0) first, then t1…t5 in their order.
        #expect(layout.boxes.map(\.name) == ["root", "t1", "t2", "t3", "t4", "t5"])
        let step = SchemaLayout.boxWidth + SchemaLayout.gapX
        #expect(layout.boxes.map(\.x) == [0, 1, 2, 0, 1, 2].map { SchemaLayout.margin + Double($0) * step })
        let firstRowBottom = layout.boxes.prefix(3).map { $0.y + $0.height }.max()!
        #expect(layout.boxes.suffix(3).allSatisfy { $0.y == firstRowBottom + SchemaLayout.gapY })
        #expect(layout.edges.count == 5 && layout.edges.allSatisfy { $0.path.hasPrefix("M") && $0.path.contains(" C") })
        #expect(SchemaLayout(tables: tables, keys: keys).boxes.map(\.x).filter { $0 == SchemaLayout.margin }.count == 1, "by references: root alone in layer 0")
    }

    @Test("schema map: a cycle and a self reference still lay out")
    func cycles() {
        let layout = SchemaLayout(
            tables: [("a", ["id int"]), ("b", ["id int"])],
            keys: [.init(from: "a", column: "id", to: "b"), .init(from: "b", column: "id", to: "a"), .init(from: "a", column: "id", to: "a")])
        #expect(layout.boxes.count == 2 && layout.edges.count == 3)
    }

    @Test("log lines: level and component from the server's prefix; filters")
    func logLines() {
        let line = LogLine("2026-12-05 19:00:00.123 UTC [42] app@app ERROR:  relation \"x\" does not exist")
        #expect(line.level == "ERROR" && line.component == "app")
        let server = LogLine("2026-12-05 19:00:00.123 UTC [7] LOG:  database system is ready to accept connections")
        #expect(server.level == "LOG" && server.component == "server")
        let filter = LogLine.Filter(level: "ERROR", component: "", search: "RELATION")
        #expect(filter.matches(line) && !filter.matches(server))
        #expect(filter.query == "level=ERROR&q=RELATION")
    }
}
