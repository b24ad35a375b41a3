@testable import BranchEngine
import Testing

/// How a mirror's main catches up with its source's schema: what is added, dropped, changed or
/// only reported, and the SQL it runs.
@Suite("Mirror schema plan")
struct MirrorSchemaPlanTests {
    typealias Column = MirrorSchemaPlan.Column

    static func column(_ table: String, _ name: String, _ type: String = "integer", notNull: Bool = false, default value: String? = nil) -> Column {
        Column(table: table, name: name, type: type, notNull: notNull, defaultExpression: value)
    }

    @Test("the same schema needs nothing")
    func same() {
        let columns = [Self.column("public.t", "id"), Self.column("public.t", "name", "text")]
        #expect(MirrorSchemaPlan.changes(source: columns, mirror: columns).isEmpty)
    }

    @Test("new tables first, then column changes in the source's order, then tables gone")
    func changes() {
        let source = [
            Self.column("public.t", "id"), Self.column("public.t", "stock", notNull: true, default: "7"),
            Self.column("public.t", "price", "numeric(12,2)"), Self.column("public.new", "id"),
        ]
        let mirror = [
            Self.column("public.t", "id"), Self.column("public.t", "price", "numeric(10,2)"), Self.column("public.t", "old", "text"),
            Self.column("public.gone", "id"),
        ]
        let changes = MirrorSchemaPlan.changes(source: source, mirror: mirror)
        #expect(changes == [
            .addTable("public.new"),
            .addColumn(Self.column("public.t", "stock", notNull: true, default: "7")),
            .changeType(Self.column("public.t", "price", "numeric(12,2)")),
            .dropColumn(table: "public.t", column: "old"),
            .tableGone("public.gone"),
        ])
        #expect(changes[1].sql == "ALTER TABLE public.t ADD COLUMN \"stock\" integer DEFAULT 7 NOT NULL")
        #expect(changes[2].sql == "ALTER TABLE public.t ALTER COLUMN \"price\" TYPE numeric(12,2) USING \"price\"::numeric(12,2)")
        #expect(changes[3].sql == "ALTER TABLE public.t DROP COLUMN \"old\"")
        #expect(changes[0].sql == nil && changes[4].sql == nil)
        #expect(changes[4].summary.contains("kept here"))
    }

    @Test("column names are quoted, quotes doubled")
    func quoting() {
        let change = MirrorSchemaPlan.Change.dropColumn(table: "public.t", column: "we\"ird")
        #expect(change.sql == "ALTER TABLE public.t DROP COLUMN \"we\"\"ird\"")
    }
}
