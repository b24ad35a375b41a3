import BranchAPI
@testable import BranchCLI
import BranchCore
@testable import BranchEngine
import Foundation
import Testing

// The pure planning of `branch push`: which columns are pushed, the checks on the primary key,
// the SQL it composes and how result rows become changes.

private let source = PushTableShape(qualifiedName: "public.items", columns: ["id", "name", "qty", "only_here"], key: ["id"])
private let target = PushTableShape(qualifiedName: "public.items", columns: ["id", "only_there", "name", "qty"], key: ["id"])

@Suite("Push planning")
struct PushPlanTests {
    @Test("the common columns are pushed, in the source's order; those on one side only are named")
    func columns() throws {
        let plan = try PushPlan(source: source, target: target, filter: nil)
        #expect(plan.columns == ["id", "name", "qty"])
        #expect(plan.valueColumns == ["name", "qty"])
        #expect(plan.columnsOnlyInSource == ["only_here"])
        #expect(plan.columnsOnlyInTarget == ["only_there"])
        #expect(plan.key == ["id"])
    }

    @Test("a side without a primary key, or with other key columns, is refused")
    func keys() {
        let keyless = PushTableShape(qualifiedName: "public.logs", columns: ["msg"], key: [])
        #expect(throws: EngineError.self) { try PushPlan(source: keyless, target: target, filter: nil) }
        do {
            _ = try PushPlan(source: source, target: PushTableShape(qualifiedName: "public.items", columns: ["id"], key: []), filter: nil)
            Issue.record("a target without a key was accepted")
        } catch {
            #expect(error.code == .tableHasNoPrimaryKey)
            #expect(error.message.contains("target"))
        }
        let otherKey = PushTableShape(qualifiedName: "public.items", columns: ["id", "name"], key: ["id", "name"])
        do {
            _ = try PushPlan(source: source, target: otherKey, filter: nil)
            Issue.record("different key columns were accepted")
        } catch {
            #expect(error.code == .invalidRequest)
        }
        // The same key columns in another order are the same key.
        let pair = PushTableShape(qualifiedName: "public.pairs", columns: ["a", "b", "v"], key: ["a", "b"])
        let swapped = PushTableShape(qualifiedName: "public.pairs", columns: ["b", "a", "v"], key: ["b", "a"])
        #expect(throws: Never.self) { try PushPlan(source: pair, target: swapped, filter: nil) }
    }

    @Test("the filter stands on lines of its own, so a trailing comment cannot swallow the rest; blank means every row")
    func filter() throws {
        let plan = try PushPlan(source: source, target: target, filter: "  id in (3, 4) -- mine \n")
        #expect(plan.filter == "id in (3, 4) -- mine")
        #expect(plan.sourceCopySQL == "COPY (SELECT \"id\", \"name\", \"qty\" FROM public.items WHERE (\nid in (3, 4) -- mine\n)) TO STDOUT")
        #expect(plan.sourceCountSQL.hasSuffix("WHERE (\nid in (3, 4) -- mine\n)"))
        // The removed rows and the lock: the filter applies to the target's table.
        #expect(plan.removedRowsSQL(limit: 5).contains("FROM public.items t WHERE (\nid in (3, 4) -- mine\n) AND NOT EXISTS"))
        #expect(plan.lockSQL.contains("(\nid in (3, 4) -- mine\n) OR EXISTS"))
        #expect(plan.deleteSQL.contains("(\nid in (3, 4) -- mine\n) AND NOT EXISTS"))
        let everything = try PushPlan(source: source, target: target, filter: "   ")
        #expect(everything.filter == nil)
        #expect(!everything.sourceCopySQL.contains("WHERE"))
        #expect(everything.deleteSQL.contains("WHERE NOT EXISTS"))
    }

    @Test("identifiers are quoted; values are compared as text; the key joins")
    func quoting() throws {
        let odd = PushTableShape(qualifiedName: "\"my schema\".\"T\"", columns: ["Id", "we\"ird"], key: ["Id"])
        let plan = try PushPlan(source: odd, target: odd, filter: nil)
        #expect(plan.stagingCopySQL == "COPY pg_temp.branch_push_rows (\"Id\", \"we\"\"ird\") FROM STDIN")
        #expect(plan.createStagingSQL.contains("AS SELECT \"Id\", \"we\"\"ird\" FROM \"my schema\".\"T\" WITH NO DATA"))
        #expect(plan.countSQL.contains("t.\"Id\" = s.\"Id\""))
        #expect(plan.countSQL.contains("s.\"we\"\"ird\"::text IS DISTINCT FROM t.\"we\"\"ird\"::text"))
        #expect(plan.insertSQL.contains("INSERT INTO \"my schema\".\"T\" (\"Id\", \"we\"\"ird\") OVERRIDING SYSTEM VALUE SELECT s.\"Id\", s.\"we\"\"ird\""))
        #expect(plan.addedRowsSQL(limit: 7).hasSuffix("ORDER BY s.\"Id\" LIMIT 7"))
    }

    @Test("a table of key columns only has nothing to change, only rows to add and remove")
    func keyOnly() throws {
        let pairs = PushTableShape(qualifiedName: "public.tags", columns: ["a", "b"], key: ["a", "b"])
        let plan = try PushPlan(source: pairs, target: pairs, filter: nil)
        #expect(plan.valueColumns.isEmpty)
        #expect(plan.changedRowsSQL(limit: 1).contains("WHERE false"))
    }

    @Test("an update writes only its changed columns, and matches only rows whose changes are exactly those")
    func updates() throws {
        let plan = try PushPlan(source: source, target: target, filter: nil)
        #expect(plan.changedColumns(flags: "{f,t}") == ["qty"])
        #expect(plan.changedColumns(flags: "{t,t}") == ["name", "qty"])
        let sql = plan.updateSQL(changing: ["qty"])
        #expect(sql.contains("SET \"qty\" = s.\"qty\" FROM"))
        #expect(!sql.contains("\"name\" = s.\"name\""))
        #expect(sql.contains("NOT (s.\"name\"::text IS DISTINCT FROM t.\"name\"::text)"))
        #expect(sql.contains("AND s.\"qty\"::text IS DISTINCT FROM t.\"qty\"::text"))
        #expect(plan.changedColumnSetsSQL.hasPrefix("SELECT DISTINCT ARRAY[s.\"name\"::text IS DISTINCT FROM t.\"name\"::text, s.\"qty\"::text"))
    }

    @Test("result rows become changes: keys, old and new values, NULL kept apart from '', the changed columns")
    func rows() throws {
        let plan = try PushPlan(source: source, target: target, filter: nil)
        let added = plan.change(.added, row: ["7", "seven", nil])
        let values: [String: String?] = ["id": "7", "name": "seven", "qty": nil]
        #expect(added == PushRowChange(kind: .added, key: ["id": "7"], old: nil, new: values, changedColumns: nil))
        let removed = plan.change(.removed, row: ["8", "eight", "1"])
        #expect(removed.old?["name"] == "eight" && removed.new == nil && removed.key == ["id": "8"])
        // New values first, then the target's.
        let changed = plan.changedRow(["9", "", "2", "9", nil, "2"])
        #expect(changed.kind == .changed && changed.key == ["id": "9"])
        #expect(changed.changedColumns == ["name"])
        #expect(changed.new?["name"] == "" && changed.old?["name"] == .some(nil))
    }

    @Test("the target user's rights are checked on the table, one per kind of write")
    func rights() throws {
        let plan = try PushPlan(source: source, target: target, filter: nil)
        #expect(PushPlan.requiredRights == ["SELECT", "INSERT", "UPDATE", "DELETE"])
        #expect(plan.privilegesSQL == "SELECT has_table_privilege($1, 'SELECT'), has_table_privilege($1, 'INSERT'), has_table_privilege($1, 'UPDATE'), has_table_privilege($1, 'DELETE')")
    }

    @Test("the terminal shows the counts, each row, changed columns old → new, and how to apply a dry run")
    func terminal() {
        typealias Values = Components.Schemas.RowValues
        let rows: [Components.Schemas.PushRowChange] = [
            .init(changedColumns: nil, key: Values(additionalProperties: ["id": "201"]), kind: "added", new: Values(additionalProperties: ["id": "201", "name": "new"])),
            .init(
                changedColumns: ["qty"], key: Values(additionalProperties: ["id": "3"]), kind: "changed",
                new: Values(additionalProperties: ["id": "3", "qty": "31"]), old: Values(additionalProperties: ["id": "3", "qty": "30"])),
            .init(changedColumns: nil, key: Values(additionalProperties: ["id": "5"]), kind: "removed", old: Values(additionalProperties: ["id": "5", "qty": nil])),
        ]
        var report = Components.Schemas.PushReport(
            added: 1, applied: false, changed: 1, columnsOnlyInSource: ["only_here"], columnsOnlyInTarget: [], removed: 1, rows: rows,
            source: "branch feat", table: "public.items", target: "postgres://app@db:5432/shop", truncated: false)
        let dry = PushPrinter.lines(report)
        #expect(dry.first == "public.items: branch feat → postgres://app@db:5432/shop (dry run)")
        #expect(dry.contains("  1 added, 1 changed, 1 removed"))
        #expect(dry.contains("  Not pushed (not on the target): only_here"))
        #expect(dry.contains("  + id='201'  {id: '201', name: 'new'}"))
        #expect(dry.contains("      qty: '30' → '31'"))
        #expect(dry.contains("  - id='5'  {id: '5', qty: NULL}"))
        #expect(dry.last?.contains("--apply") == true)
        report.applied = true
        #expect(PushPrinter.lines(report).last == "✓ Pushed 3 row changes in one transaction.")
    }
}
