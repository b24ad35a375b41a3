@testable import BranchConsole
import Foundation
import Testing

/// The table and SQL editors' pure parts: quoting, the keyset query, edit batches, CSV, the
/// guards on destructive statements, the automatic LIMIT and error positions mapped back.
@Suite("Console editors: SQL building and guards")
struct ConsoleEditorUnitTests {
    static let items = TableCatalog.Table(
        schema: "public", name: "it\"ems",
        columns: [
            .init(name: "id", type: "integer", notNull: true, hasDefault: false, generated: false, keyPosition: 0),
            .init(name: "name", type: "text", notNull: true, hasDefault: false, generated: false, keyPosition: nil),
            .init(name: "total", type: "numeric(8,2)", notNull: false, hasDefault: false, generated: true, keyPosition: nil),
        ],
        estimatedRows: 0)

    @Test("identifiers and literals are quoted so a value never ends its string")
    func quoting() throws {
        #expect(SQLQuoting.identifier("we\"ird") == "\"we\"\"ird\"")
        #expect(try SQLQuoting.literal("it's") == "'it''s'")
        #expect(try SQLQuoting.literal("a\\'b") == "E'a\\\\''b'")
        #expect(try SQLQuoting.typed(nil, type: "integer") == "NULL")
        #expect(try SQLQuoting.typed("7", type: "integer") == "'7'::integer")
        #expect(throws: SQLQuoting.InvalidValue.self) { try SQLQuoting.literal("nul\u{0}") }
    }

    @Test("edits become one statement each, with typed literals and the whole key")
    func editBatch() throws {
        let batch = EditBatch(table: "public.it\"ems", edits: [
            .init(op: "update", key: ["id": "1"], values: ["name": "x'); DROP TABLE t; --"]),
            .init(op: "insert", key: nil, values: ["id": "2", "name": nil]),
            .init(op: "delete", key: ["id": "3"], values: nil),
        ])
        let statements = try batch.statements(for: Self.items)
        #expect(statements == [
            "UPDATE \"public\".\"it\"\"ems\" SET \"name\" = 'x''); DROP TABLE t; --'::text WHERE \"id\" = '1'::integer",
            "INSERT INTO \"public\".\"it\"\"ems\" (\"id\", \"name\") VALUES ('2'::integer, NULL)",
            "DELETE FROM \"public\".\"it\"\"ems\" WHERE \"id\" = '3'::integer",
        ])
        #expect(throws: EditBatch.Invalid.self) {
            try EditBatch(table: "t", edits: [.init(op: "update", key: ["id": "1"], values: ["total": "1"])]).statements(for: Self.items)
        }
        #expect(throws: EditBatch.Invalid.self) {
            try EditBatch(table: "t", edits: [.init(op: "delete", key: [:], values: nil)]).statements(for: Self.items)
        }
    }

    @Test("the keyset query pages after a cursor with parameters, NULLs of the sort column last")
    func keyset() throws {
        let names = Self.items.columns.map(\.name)
        var grid = GridQuery(table: Self.items, sort: nil, filters: [try #require(GridQuery.Filter("name.like.50%", columns: names))])
        var (query, params) = grid.sql(after: .init(values: ["10"]))
        #expect(query.contains("\"name\"::text ILIKE $1::text AND (\"id\") > ($2::integer) ORDER BY \"id\" ASC LIMIT 51"))
        #expect(params == ["%50\\%%", "10"])
        grid.sort = GridQuery.Sort("total.desc", columns: names)
        (query, params) = grid.sql(after: .init(values: [nil, "10"]))
        #expect(query.contains("(\"total\" IS NULL AND (\"id\") < ($2::integer))"))
        #expect(query.contains("ORDER BY \"total\" DESC NULLS LAST, \"id\" DESC"))
        (query, _) = grid.sql(before: .init(values: ["5.00", "10"]))
        #expect(query.contains("ORDER BY \"total\" ASC NULLS FIRST, \"id\" ASC"))
        #expect(GridQuery.Cursor(token: GridQuery.Cursor(values: ["a/b+c", nil]).token)?.values == ["a/b+c", nil])
    }

    @Test("CSV round-trips quotes, commas, line breaks, empty strings and NULLs")
    func csv() throws {
        let line = CSV.line(["1", "a,\"b\"\nc", "", nil])
        #expect(line == "1,\"a,\"\"b\"\"\nc\",\"\",\r\n")
        #expect(try CSV.parse(line) == [["1", "a,\"b\"\nc", "", nil]])
        #expect(throws: CSV.Malformed.self) { try CSV.parse("a,\"b\n") }
    }

    @Test("destructive statements are recognised outside strings and comments")
    func guards() {
        func reason(_ sql: String) -> String? { StatementGuards.split(sql).compactMap(StatementGuards.destructive).first }
        #expect(reason("DROP TABLE t") != nil)
        #expect(reason("truncate t") != nil)
        #expect(reason("ALTER TABLE t DROP COLUMN c") != nil)
        #expect(reason("DELETE FROM t") != nil)
        #expect(reason("UPDATE t SET v = 1") != nil)
        #expect(reason("UPDATE t SET v = 1 WHERE id = 2") == nil)
        #expect(reason("SELECT 'DROP TABLE t' -- DELETE FROM t") == nil)
        #expect(reason("SELECT * FROM t FOR UPDATE") == nil)
        #expect(reason("SELECT $$; DROP TABLE t; $$") == nil)
        #expect(StatementGuards.split("SELECT 1; SELECT ';'; -- end").count == 2)
    }

    @Test("a bare SELECT gets LIMIT 1000 and error positions map back to the submitted text")
    func automaticLimit() {
        let sql = "SELECT 1 -- one\n;\nSELECT 2 LIMIT 5;\nSELECT x FROM t"
        let (limited, indices, insertions) = StatementGuards.limited(sql)
        #expect(indices == [0, 2])
        #expect(limited == "SELECT 1 -- one\nLIMIT 1000\n;\nSELECT 2 LIMIT 5;\nSELECT x FROM t\nLIMIT 1000")
        let executed = Array(limited)
        let x = executed.lastIndex(of: "x")! + 1
        let original = Array(sql).lastIndex(of: "x")! + 1
        #expect(StatementGuards.originalPosition(x, insertions: insertions) == original)
        #expect(StatementGuards.limited("WITH a AS (SELECT 1) SELECT * FROM a").limited == [0])
        #expect(StatementGuards.limited("SELECT 1 INTO t2").limited.isEmpty)
    }

    @Test("the table catalog reads a single-column foreign key's target; the grid links its values to it")
    func foreignKeys() throws {
        let rows: [[String?]] = [
            ["public", "orders", "id", "integer", "true", "false", "false", "1", "2", nil, nil, nil],
            ["public", "orders", "item_id", "integer", "false", "false", "false", nil, "2", "shop", "items", "id"],
        ]
        let table = try #require(TableCatalog.tables(rows).first)
        #expect(table.column("id")?.references == nil)
        #expect(table.column("item_id")?.references == .init(schema: "shop", table: "items", column: "id"))
        let location = TableLocation(project: "p", branch: "main", tableID: "public.orders", sort: "qty.asc", filters: ["qty.gt.1"], at: "2026-01-15T11:45:00Z")
        let jump = try #require(TableEditorPages.jump(table.column("item_id")?.references, value: "3", location: location))
        #expect(jump.href == "/projects/p/tables?branch=main&at=2026-01-15T11%3A45%3A00Z&table=shop.items&filter=id.eq.3")
        #expect(TableEditorPages.jump(table.column("item_id")?.references, value: nil, location: location) == nil)
    }

    @Test("a JSON export types values as PostgREST does: numbers, booleans and JSON as such, the rest as strings, NULL as null")
    func jsonExport() throws {
        #expect(JSONExport.Kind(type: "numeric(8,2)") == .number && JSONExport.Kind(type: "bigint") == .number)
        #expect(JSONExport.Kind(type: "double precision") == .number && JSONExport.Kind(type: "jsonb") == .json)
        #expect(JSONExport.Kind(type: "boolean") == .boolean && JSONExport.Kind(type: "integer[]") == .text)
        #expect(JSONExport.Kind(type: "timestamp with time zone") == .text)
        #expect(JSONExport.encode("180.00", as: .number) == "180.00")
        #expect(JSONExport.encode("-1.5e-3", as: .number) == "-1.5e-3")
        #expect(JSONExport.encode("NaN", as: .number) == "\"NaN\"" && JSONExport.encode("Infinity", as: .number) == "\"Infinity\"")
        #expect(JSONExport.encode("007", as: .number) == "\"007\"" && JSONExport.encode(".5", as: .number) == "\".5\"")
        #expect(JSONExport.encode("t", as: .boolean) == "true" && JSONExport.encode("false", as: .boolean) == "false")
        #expect(JSONExport.encode("{\"a\": [1]}", as: .json) == "{\"a\": [1]}")
        #expect(JSONExport.encode(nil, as: .text) == "null")
        #expect(JSONExport.encode("say \"hi\"\n<script>\u{1}", as: .text) == "\"say \\\"hi\\\"\\n\\u003cscript>\\u0001\"")
        let parsed = try JSONSerialization.jsonObject(with: Data(JSONExport.encode("a\\b\t<é>", as: .text).utf8), options: .fragmentsAllowed)
        #expect(parsed as? String == "a\\b\t<é>", "what it writes reads back the same")
    }
}
