@testable import BranchConsole
import Foundation
import Testing

/// The SQL editor's EXPLAIN tree: which statements have a plan, how Postgres's JSON plan becomes
/// indented rows, where the time goes, and which estimates are far off.
@Suite("Console SQL editor: EXPLAIN tree")
struct ConsoleSQLExplainTests {
    @Test("EXPLAIN takes queries, data changes, EXECUTE and CREATE … AS, not other DDL")
    func explainable() {
        func explainable(_ sql: String) -> Bool { StatementGuards.explainable(StatementGuards.split(sql)[0]) }
        #expect(explainable("select 1"))
        #expect(explainable("-- first\nWITH a AS (SELECT 1) SELECT * FROM a"))
        #expect(explainable("update t set v = 1 where id = 2"))
        #expect(explainable("CREATE TABLE t2 AS SELECT 1"))
        #expect(!explainable("CREATE TABLE t2 (id int)"))
        #expect(!explainable("CREATE VIEW v AS SELECT 1"))
        #expect(!explainable("CREATE TABLE t3 (id int GENERATED ALWAYS AS IDENTITY)"))
        #expect(!explainable("CREATE FUNCTION f() RETURNS TABLE (x int) AS $$ SELECT 1 $$ LANGUAGE sql"))
        #expect(explainable("create temp table t4 as select 1"))
        #expect(explainable("CREATE MATERIALIZED VIEW m AS SELECT 1"))
        #expect(!explainable("VACUUM t"))
        #expect(!explainable("BEGIN"))
    }

    /// What `EXPLAIN (ANALYZE, FORMAT JSON)` printed for a join on Postgres 15, shortened.
    static let analyzed = """
        [{"Plan": {"Node Type": "Hash Join", "Parallel Aware": false, "Join Type": "Inner", "Startup Cost": 1.09, "Total Cost": 30.5,
          "Plan Rows": 10, "Plan Width": 8, "Actual Startup Time": 0.05, "Actual Total Time": 4.0, "Actual Rows": 5000, "Actual Loops": 1,
          "Hash Cond": "(o.item = i.id)",
          "Plans": [
            {"Node Type": "Seq Scan", "Parent Relationship": "Outer", "Relation Name": "orders", "Schema": "public", "Alias": "o",
             "Total Cost": 20.0, "Plan Rows": 5000, "Actual Total Time": 3.0, "Actual Rows": 5000, "Actual Loops": 1,
             "Filter": "(v > 10)", "Rows Removed by Filter": 12},
            {"Node Type": "Hash", "Parent Relationship": "Inner", "Total Cost": 1.05, "Plan Rows": 3, "Actual Total Time": 0.5,
             "Actual Rows": 3, "Actual Loops": 1,
             "Plans": [{"Node Type": "Index Scan", "Relation Name": "items", "Schema": "public", "Alias": "items", "Index Name": "items_pkey",
                        "Total Cost": 1.05, "Plan Rows": 3, "Actual Total Time": 0.1, "Actual Rows": 0.3333, "Actual Loops": 3}]}
          ]},
          "Planning Time": 0.2, "Execution Time": 4.1}]
        """

    @Test("ANALYZE: indented nodes, self time, the slowest node and a far-off estimate")
    func analyzedPlan() throws {
        let plan = try ExplainPlan.parse(Self.analyzed, title: "Statement 2")
        #expect(plan.analyzed)
        #expect(plan.title == "Statement 2")
        #expect(plan.nodes.map(\.operation) == ["Hash Join", "Seq Scan", "Hash", "Index Scan"])
        #expect(plan.nodes.map(\.depth) == [0, 1, 1, 2])
        #expect(plan.nodes.map(\.depthClass) == ["depth-0", "depth-1", "depth-1", "depth-2"])
        #expect(plan.nodes[1].target == "on public.orders o")
        #expect(plan.nodes[3].target == "on public.items using items_pkey")
        #expect(plan.nodes[0].details == ["Hash Cond: (o.item = i.id)"])
        #expect(plan.nodes[1].details == ["Filter: (v > 10)", "Rows Removed by Filter: 12"])
        // Self time: the join's 4.0 less its children's 3.0 and 0.5; the index scan's 0.1 × 3 loops.
        #expect(plan.nodes.map(\.selfTime) == ["0.500", "3.000", "0.200", "0.300"])
        #expect(plan.nodes[1].hot && plan.nodes.filter(\.hot).count == 1)
        #expect(plan.nodes[1].sharePercent == "75%")
        #expect(plan.nodes[0].misestimate == "estimated 10, got 5,000")
        #expect(plan.nodes[1].misestimate == nil)
        #expect(plan.nodes[3].loops == "3")
        #expect(plan.planning == "0.200 ms" && plan.execution == "4.100 ms")
    }

    @Test("plain EXPLAIN: shares of cost, no actual figures")
    func estimatedPlan() throws {
        let json = """
            [{"Plan": {"Node Type": "Aggregate", "Strategy": "Hashed", "Total Cost": 100, "Plan Rows": 7, "Group Key": ["kind", "day"],
              "Plans": [{"Node Type": "Seq Scan", "Relation Name": "events", "Alias": "events", "Total Cost": 90, "Plan Rows": 9000}]}}]
            """
        let plan = try ExplainPlan.parse(json, title: "Statement 1")
        #expect(!plan.analyzed)
        #expect(plan.nodes[0].operation == "Aggregate (Hashed)")
        #expect(plan.nodes[0].details == ["Group Key: kind, day"])
        #expect(plan.nodes[1].target == "on events")
        #expect(plan.nodes[1].estimatedRows == "9,000")
        #expect(plan.nodes.map(\.sharePercent) == ["10%", "90%"])
        #expect(plan.nodes.allSatisfy { $0.selfTime == nil && $0.actualRows == nil && $0.misestimate == nil })
        #expect(plan.execution == nil)
        #expect(throws: ExplainPlan.Unreadable.self) { try ExplainPlan.parse("[]", title: "x") }
        let update = try ExplainPlan.parse(
            #"[{"Plan": {"Node Type": "ModifyTable", "Operation": "Update", "Relation Name": "t", "Schema": "public", "Alias": "t", "Total Cost": 8, "Plan Rows": 0}}]"#,
            title: "Statement 1")
        #expect(update.nodes[0].operation == "Update" && update.nodes[0].target == "on public.t")
        // A cross join's estimate is far beyond an Int: it is written, never converted.
        let huge = try ExplainPlan.parse(#"[{"Plan": {"Node Type": "Nested Loop", "Total Cost": 1e30, "Plan Rows": 1e27}}]"#, title: "Statement 1")
        #expect(huge.nodes[0].estimatedRows == "1e+27")
    }

    @Test("counts are grouped by thousands")
    func counts() {
        #expect(Formatting.count(0) == "0")
        #expect(Formatting.count(999) == "999")
        #expect(Formatting.count(1000) == "1,000")
        #expect(Formatting.count(-1234567) == "-1,234,567")
    }
    @Test("the diagram: the root above its children, a parent centred over them, edges as thick as the rows they carry, text escaped")
    func diagram() throws {
        let plan = try ExplainPlan.parse(Self.analyzed, title: "Statement 2")
        let diagram = PlanDiagram(plan)
        let step = PlanDiagram.boxWidth + PlanDiagram.gapX
        let centers = diagram.boxes.map { $0.x + PlanDiagram.boxWidth / 2 }
        // Leaves: Seq Scan, then Index Scan (under Hash); Hash sits over its only child, the join over both.
        #expect(centers[1] + step == centers[3] && centers[2] == centers[3] && centers[0] == (centers[1] + centers[2]) / 2)
        #expect(diagram.boxes.map(\.y) == [0, 1, 1, 2].map { PlanDiagram.margin + Double($0) * (PlanDiagram.boxHeight + PlanDiagram.gapY) })
        #expect(diagram.width == 2 * PlanDiagram.margin + 2 * step - PlanDiagram.gapX)
        #expect(diagram.edges.count == 3 && diagram.edges.map(\.rows) == ["5,000", "3", "1"])
        #expect(diagram.edges[0].width > diagram.edges[1].width && diagram.edges[1].width > diagram.edges[2].width)
        let html = try #require(plan.diagramHTML).renderText
        #expect(html.hasPrefix("<svg class=\"plan-diagram\"") && html.components(separatedBy: "<g class=\"plan-box").count == 5)
        #expect(html.contains("<g class=\"plan-box hot\">") && html.contains(">Seq Scan</text>"))
        let hostile = try ExplainPlan.parse(#"[{"Plan": {"Node Type": "Seq Scan", "Relation Name": "<script>x</script>", "Total Cost": 1, "Plan Rows": 1}}]"#, title: "t")
        let text = try #require(hostile.diagramHTML).renderText
        #expect(!text.contains("<script>") && text.contains("&lt;script&gt;"))
        #expect(PlanDiagram.cut(String(repeating: "a", count: 40)).count == PlanDiagram.lineLength)
    }
}
