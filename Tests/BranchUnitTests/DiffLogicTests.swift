import BranchCore
import BranchAPI
@testable import BranchDiff
import Foundation
import Testing

// Pure logic of BranchDiff: JSON patches, schema comparison and classification, the DDL made from
// schema changes, and the parts of the row differ that need no server.

// MARK: - Fixtures

private func column(
    _ name: String, _ type: String, null: Bool = true, default expression: String? = nil, generated: String? = nil, identity: String? = nil
) -> ColumnSchema {
    ColumnSchema(name: name, type: type, nullable: null, defaultExpression: expression, generated: generated, identity: identity)
}

/// `public.users (id bigint NOT NULL, email text)` with primary key `users_pkey (id)` and its index.
private let users = TableSchema(
    schema: "public", name: "users",
    columns: [column("id", "bigint", null: false), column("email", "text")],
    primaryKey: ["id"],
    indexes: [NamedDefinition(name: "users_pkey", definition: "CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)")],
    constraints: [ConstraintSchema(name: "users_pkey", type: "p", definition: "PRIMARY KEY (id)")])

private func edited(_ table: TableSchema, _ edit: (inout TableSchema) -> Void) -> TableSchema {
    var table = table
    edit(&table)
    return table
}

/// `users` with one more column.
private func usersWith(_ extra: ColumnSchema) -> TableSchema { edited(users) { $0.columns.append(extra) } }

/// `users` with its `email` column replaced.
private func usersWithEmail(_ email: ColumnSchema) -> TableSchema { edited(users) { $0.columns[1] = email } }

/// One line per change: `objectType name change classification`.
private func lines(_ changes: [SchemaChange]) -> [String] {
    changes.map { "\($0.objectType) \($0.name) \($0.change) \($0.classification)" }
}

private func only(_ from: SchemaSnapshot, _ to: SchemaSnapshot) throws -> SchemaChange {
    let changes = SchemaDiff.compare(from, to)
    try #require(changes.count == 1, "expected one change, got \(lines(changes))")
    return changes[0]
}

/// The plan for the one change of `type` named `name` between the snapshots.
private func plan(_ from: SchemaSnapshot, _ to: SchemaSnapshot, _ type: String, _ name: String) throws -> SchemaDDL.Plan {
    let changes = SchemaDiff.compare(from, to)
    let change = try #require(changes.first { $0.objectType == type && $0.name == name }, "no \(type) \(name) in \(lines(changes))")
    return SchemaDDL.statements(for: change, from: from, to: to)
}

private func statements(_ from: SchemaSnapshot, _ to: SchemaSnapshot, _ type: String, _ name: String) throws -> [String] {
    let result = try plan(from, to, type, name)
    return try #require(result.statements, "unsupported: \(result.reason ?? "")")
}

private func script(_ from: SchemaSnapshot, _ to: SchemaSnapshot) -> SchemaScript {
    SchemaDDL.script(for: SchemaDiff.compare(from, to), from: from, to: to)
}

private func jsonObject(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
    .object(Dictionary(uniqueKeysWithValues: pairs.map { ($0.key, $0.value) }))
}

// MARK: - JSON patch

struct PatchCase: Sendable, CustomTestStringConvertible {
    let label: String
    let old: JSONValue?
    let new: JSONValue?
    var testDescription: String { label }
}

private let patchCases: [PatchCase] = [
    PatchCase(label: "identical objects", old: jsonObject(["a": .integer(1)]), new: jsonObject(["a": .integer(1)])),
    PatchCase(
        label: "nested objects",
        old: jsonObject(["a": jsonObject(["b": .integer(1), "c": .integer(2)]), "x": .string("keep")]),
        new: jsonObject(["a": jsonObject(["b": .integer(1), "c": .integer(3), "d": jsonObject(["e": .array([.integer(1)])])]), "x": .string("keep")])),
    PatchCase(label: "array grows", old: .array([.integer(1), .integer(2)]), new: .array([.integer(1), .integer(2), .integer(3), .integer(4)])),
    PatchCase(label: "array shrinks", old: .array([.integer(1), .integer(2), .integer(3), .integer(4)]), new: .array([.integer(9)])),
    PatchCase(label: "array emptied", old: .array([.string("a"), .string("b")]), new: .array([])),
    PatchCase(label: "array filled", old: .array([]), new: .array([.null, .bool(true)])),
    PatchCase(
        label: "arrays of objects in objects",
        old: jsonObject(["items": .array([jsonObject(["id": .integer(1), "tags": .array([.string("x")])])])]),
        new: jsonObject([
            "items": .array([
                jsonObject(["id": .integer(1), "tags": .array([.string("x"), .string("y")])]), jsonObject(["id": .integer(2)]),
            ])
        ])),
    PatchCase(label: "object becomes array", old: jsonObject(["a": jsonObject(["b": .integer(1)])]), new: jsonObject(["a": .array([.integer(1)])])),
    PatchCase(label: "string becomes object", old: .string("s"), new: jsonObject(["s": .string("s")])),
    PatchCase(label: "array becomes null", old: jsonObject(["a": .array([.integer(1)])]), new: jsonObject(["a": .null])),
    PatchCase(label: "bool becomes string", old: .array([.bool(true)]), new: .array([.string("true")])),
    PatchCase(
        label: "keys with / and ~",
        old: jsonObject(["a/b": .integer(1), "~c": .integer(2), "~1": .integer(3), "~0/": jsonObject(["/": .integer(4)])]),
        new: jsonObject(["a/b": .integer(2), "~1": .integer(3), "~0/": jsonObject(["/": .integer(5), "~": .integer(6)]), "/~": .integer(7)])),
    PatchCase(label: "empty key", old: jsonObject(["": .integer(1)]), new: jsonObject(["": .integer(2), " ": .integer(3)])),
    PatchCase(label: "unicode keys", old: jsonObject(["clé": .string("é")]), new: jsonObject(["clé": .string("è"), "键": .integer(1)])),
    PatchCase(label: "absent to document", old: nil, new: jsonObject(["a": .integer(1)])),
    PatchCase(label: "document to absent", old: .array([.integer(1)]), new: nil),
    PatchCase(label: "absent to absent", old: nil, new: nil),
    PatchCase(label: "absent to null", old: nil, new: .null),
    PatchCase(label: "null to absent", old: .null, new: nil),
    PatchCase(label: "null to object", old: .null, new: jsonObject(["a": .null])),
    PatchCase(label: "integer to number", old: jsonObject(["n": .integer(1)]), new: jsonObject(["n": .number(1.0)])),
    PatchCase(label: "number to integer at the top", old: .number(2.0), new: .integer(2)),
    PatchCase(label: "scalar replaced", old: .string("a"), new: .integer(1)),
]

@Suite("JSON patch")
struct JSONPatchLogicTests {
    @Test("apply(diff(a, b), to: a) == b", arguments: patchCases)
    func roundTrip(_ example: PatchCase) throws {
        let operations = JSONPatch.diff(example.old, example.new)
        #expect(try JSONPatch.apply(operations, to: example.old) == example.new)
        #expect(operations.isEmpty == (example.old == example.new))
        // And back again.
        #expect(try JSONPatch.apply(JSONPatch.diff(example.new, example.old), to: example.new) == example.old)
    }

    @Test("objects key by key in sorted order, arrays index by index, tails added in order and removed from the end")
    func exactOperations() {
        let old = jsonObject(["a": .integer(1), "b": jsonObject(["c": .array([.integer(1), .integer(2), .integer(3)])]), "gone": .bool(true)])
        let new = jsonObject(["a": .integer(2), "b": jsonObject(["c": .array([.integer(1), .integer(5)])]), "new": .string("x")])
        #expect(JSONPatch.diff(old, new) == [
            JSONPatchOperation(op: .replace, path: "/a", value: .integer(2)),
            JSONPatchOperation(op: .replace, path: "/b/c/1", value: .integer(5)),
            JSONPatchOperation(op: .remove, path: "/b/c/2"),
            JSONPatchOperation(op: .remove, path: "/gone"),
            JSONPatchOperation(op: .add, path: "/new", value: .string("x")),
        ])
        #expect(JSONPatch.diff(.array([.integer(1)]), .array([.integer(1), .integer(2), .integer(3)])) == [
            JSONPatchOperation(op: .add, path: "/1", value: .integer(2)),
            JSONPatchOperation(op: .add, path: "/2", value: .integer(3)),
        ])
        #expect(JSONPatch.diff(.array([.integer(1), .integer(2), .integer(3)]), .array([.integer(1)])) == [
            JSONPatchOperation(op: .remove, path: "/2"),
            JSONPatchOperation(op: .remove, path: "/1"),
        ])
    }

    @Test("keys are escaped: ~ as ~0, / as ~1")
    func escaping() throws {
        let old = jsonObject(["a/b": .integer(1), "m~n": .integer(1), "~1": .integer(1)])
        let new = jsonObject(["a/b": .integer(2), "~1": .integer(2)])
        #expect(JSONPatch.diff(old, new) == [
            JSONPatchOperation(op: .replace, path: "/a~1b", value: .integer(2)),
            JSONPatchOperation(op: .remove, path: "/m~0n"),
            JSONPatchOperation(op: .replace, path: "/~01", value: .integer(2)),
        ])
        #expect(JSONPatch.escape("~/") == "~0~1")
        #expect(JSONPatch.escape("plain") == "plain")
        #expect(try JSONPatch.referenceTokens("") == [])
        #expect(try JSONPatch.referenceTokens("/") == [""])
        #expect(try JSONPatch.referenceTokens("/a~1b/~0c/~01/~10") == ["a/b", "~c", "~1", "/0"])
        #expect(try JSONPatch.referenceTokens("/a//b") == ["a", "", "b"])
        for key in ["~", "/", "~0", "~1", "a~/b", "//~~"] {
            #expect(try JSONPatch.referenceTokens("/" + JSONPatch.escape(key)) == [key])
        }
    }

    @Test("an absent document is not a JSON null; integers and numbers differ")
    func absentNullAndNumbers() throws {
        #expect(JSONPatch.diff(nil, nil) == [])
        #expect(JSONPatch.diff(nil, .null) == [JSONPatchOperation(op: .add, path: "", value: .null)])
        #expect(JSONPatch.diff(.null, nil) == [JSONPatchOperation(op: .remove, path: "")])
        #expect(JSONPatch.diff(.null, .null) == [])
        #expect(JSONPatch.diff(.integer(1), .number(1)) == [JSONPatchOperation(op: .replace, path: "", value: .number(1))])
        #expect(try JSONPatch.apply([JSONPatchOperation(op: .remove, path: "")], to: .null) == nil)
        #expect(try JSONPatch.apply([], to: nil) == nil)
    }

    @Test("apply: add appends with -, inserts at an index, and sets a member; replace at the root replaces the document")
    func applyOperations() throws {
        let document = jsonObject(["list": .array([.integer(1), .integer(3)])])
        let result = try JSONPatch.apply([
            JSONPatchOperation(op: .add, path: "/list/1", value: .integer(2)),
            JSONPatchOperation(op: .add, path: "/list/-", value: .integer(4)),
            JSONPatchOperation(op: .add, path: "/list/4", value: .integer(5)),
            JSONPatchOperation(op: .add, path: "/a~1b", value: .null),
            JSONPatchOperation(op: .replace, path: "/list/0", value: .integer(0)),
        ], to: document)
        #expect(result == jsonObject([
            "list": .array([.integer(0), .integer(2), .integer(3), .integer(4), .integer(5)]), "a/b": .null,
        ]))
        #expect(try JSONPatch.apply([JSONPatchOperation(op: .replace, path: "", value: .integer(7))], to: document) == .integer(7))
        #expect(try JSONPatch.apply([JSONPatchOperation(op: .add, path: "", value: .integer(7))], to: nil) == .integer(7))
    }

    @Test("apply errors name the path and the problem")
    func applyErrors() {
        let document = jsonObject(["a": .integer(1), "list": .array([.integer(1)])])
        func expectFailure(_ operation: JSONPatchOperation, on document: JSONValue?, _ problem: String) {
            #expect(throws: JSONPatchError(path: operation.path, problem: problem)) {
                try JSONPatch.apply([operation], to: document)
            }
        }
        expectFailure(JSONPatchOperation(op: .add, path: "a", value: .null), on: document, "a pointer starts with /")
        expectFailure(JSONPatchOperation(op: .remove, path: "/missing"), on: document, "no member \"missing\"")
        expectFailure(JSONPatchOperation(op: .replace, path: "/missing", value: .null), on: document, "no member \"missing\"")
        expectFailure(JSONPatchOperation(op: .add, path: "/missing/x", value: .null), on: document, "no member \"missing\"")
        expectFailure(JSONPatchOperation(op: .add, path: "/list/2", value: .null), on: document, "index 2 is past the end")
        expectFailure(JSONPatchOperation(op: .remove, path: "/list/1"), on: document, "no element 1")
        expectFailure(JSONPatchOperation(op: .replace, path: "/list/5", value: .null), on: document, "no element 5")
        expectFailure(JSONPatchOperation(op: .remove, path: "/list/01"), on: document, "\"01\" is not an array index")
        expectFailure(JSONPatchOperation(op: .add, path: "/list/-1", value: .null), on: document, "\"-1\" is not an array index")
        expectFailure(JSONPatchOperation(op: .remove, path: "/list/-"), on: document, "\"-\" is not an array index")
        expectFailure(JSONPatchOperation(op: .add, path: "/list/x", value: .null), on: document, "\"x\" is not an array index")
        expectFailure(
            JSONPatchOperation(op: .add, path: "/a/b", value: .null), on: document, "\"b\" is below a value that is neither an object nor an array")
        expectFailure(JSONPatchOperation(op: .add, path: "/b"), on: document, "no value")
        expectFailure(JSONPatchOperation(op: .replace, path: ""), on: document, "no value")
        expectFailure(JSONPatchOperation(op: .replace, path: "", value: .null), on: nil, "the document is absent")
        expectFailure(JSONPatchOperation(op: .remove, path: ""), on: nil, "the document is absent")
        expectFailure(JSONPatchOperation(op: .add, path: "/a", value: .null), on: nil, "the document is absent")
        #expect(JSONPatchError(path: "/x", problem: "p").code == .jsonPatchInvalid)
        #expect(JSONPatchError(path: "/x", problem: "p").category == .unprocessable)
    }

    @Test("a failing operation fails the whole patch")
    func failureStopsPatch() {
        #expect(throws: JSONPatchError.self) {
            try JSONPatch.apply([
                JSONPatchOperation(op: .add, path: "/a", value: .integer(1)),
                JSONPatchOperation(op: .remove, path: "/nope"),
            ], to: .object([:]))
        }
    }

    @Test("\"value\": null decodes as a JSON null, a missing value as nil")
    func decoding() throws {
        let withNull = try JSONDecoder().decode(JSONPatchOperation.self, from: Data(#"{"op":"add","path":"/a","value":null}"#.utf8))
        #expect(withNull == JSONPatchOperation(op: .add, path: "/a", value: .null))
        let without = try JSONDecoder().decode(JSONPatchOperation.self, from: Data(#"{"op":"remove","path":"/a"}"#.utf8))
        #expect(without == JSONPatchOperation(op: .remove, path: "/a", value: nil))
    }
}

// MARK: - Schema diff

@Suite("Schema diff")
struct SchemaDiffLogicTests {
    let base = SchemaSnapshot(tables: [users])

    @Test("identical snapshots have no changes")
    func identical() {
        #expect(SchemaDiff.compare(base, base) == [])
        #expect(SchemaDiff.compare(SchemaSnapshot(), SchemaSnapshot()) == [])
    }

    @Test("an added table is additive, a dropped one breaking; their parts are not listed on their own")
    func tables() throws {
        let orders = TableSchema(
            schema: "public", name: "orders",
            columns: [column("id", "integer", null: false), column("user_id", "bigint", null: false)],
            primaryKey: ["id"],
            indexes: [
                NamedDefinition(name: "orders_pkey", definition: "CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)"),
                NamedDefinition(name: "orders_user_id_idx", definition: "CREATE INDEX orders_user_id_idx ON public.orders USING btree (user_id)"),
            ],
            constraints: [
                ConstraintSchema(name: "orders_pkey", type: "p", definition: "PRIMARY KEY (id)"),
                ConstraintSchema(name: "orders_user_id_fkey", type: "f", definition: "FOREIGN KEY (user_id) REFERENCES users(id)"),
            ],
            rowLevelSecurity: true)
        let withOrders = SchemaSnapshot(tables: [orders, users])
        let added = try only(base, withOrders)
        #expect(added == SchemaChange(
            objectType: "table", name: "public.orders", change: .added, classification: .additive,
            from: nil, to: "(id integer NOT NULL, user_id bigint NOT NULL)", reason: nil))
        #expect(!added.isBreaking)
        let dropped = try only(withOrders, base)
        #expect(dropped == SchemaChange(
            objectType: "table", name: "public.orders", change: .removed, classification: .breaking,
            from: "(id integer NOT NULL, user_id bigint NOT NULL)", to: nil, reason: "table dropped"))
        #expect(dropped.isBreaking)
    }

    @Test("added columns: nullable or filled in additive, NOT NULL without a default breaking")
    func addedColumns() throws {
        let nullable = try only(base, SchemaSnapshot(tables: [usersWith(column("note", "text"))]))
        #expect(lines([nullable]) == ["column public.users.note added additive"])
        #expect(nullable.to == "text" && nullable.from == nil && nullable.reason == nil)

        let required = try only(base, SchemaSnapshot(tables: [usersWith(column("status", "text", null: false))]))
        #expect(lines([required]) == ["column public.users.status added breaking"])
        #expect(required.reason == "new NOT NULL column without a default")
        #expect(required.to == "text NOT NULL")

        for filled in [
            column("status", "text", null: false, default: "'new'::text"),
            column("n", "bigint", null: false, identity: "a"),
            column("n", "bigint", null: false, identity: "d"),
            column("n", "bigint", null: false, generated: "(id * 2)"),
        ] {
            let change = try only(base, SchemaSnapshot(tables: [usersWith(filled)]))
            #expect(change.classification == .additive, "\(filled)")
            #expect(change.change == .added)
        }
        let withDefault = try only(base, SchemaSnapshot(tables: [usersWith(column("status", "text", null: false, default: "'new'::text"))]))
        #expect(withDefault.to == "text DEFAULT 'new'::text NOT NULL")
    }

    @Test("a dropped column is breaking")
    func droppedColumn() throws {
        let change = try only(base, SchemaSnapshot(tables: [edited(users) { $0.columns.removeLast() }]))
        #expect(change == SchemaChange(
            objectType: "column", name: "public.users.email", change: .removed, classification: .breaking, from: "text", to: nil,
            reason: "column dropped"))
    }

    @Test(
        "type changes: widenings additive, the rest breaking",
        arguments: [
            ("integer", "bigint", false), ("smallint", "integer", false), ("character varying(50)", "character varying(100)", false),
            ("character varying", "text", false), ("character varying(50)", "text", false), ("text", "character varying", false),
            ("bigint", "integer", true), ("character varying(100)", "character varying(50)", true), ("text", "integer", true),
            ("text", "character varying(10)", true), ("json", "jsonb", true), ("timestamp without time zone", "timestamp with time zone", true),
        ])
    func typeChanges(_ from: String, _ to: String, _ breaking: Bool) throws {
        let change = try only(
            SchemaSnapshot(tables: [usersWithEmail(column("email", from))]), SchemaSnapshot(tables: [usersWithEmail(column("email", to))]))
        #expect(change.objectType == "column" && change.name == "public.users.email" && change.change == .changed)
        #expect(change.from == from && change.to == to)
        #expect(change.isBreaking == breaking)
        #expect(change.reason == (breaking ? "type \(from) → \(to) is not a widening" : nil))
    }

    @Test(
        "ColumnTypeWidening",
        arguments: [
            // Integers, numerics and floats.
            ("smallint", "bigint", true), ("bigint", "smallint", false), ("integer", "numeric", true), ("integer", "numeric(10,0)", true),
            ("integer", "numeric(9,0)", false), ("integer", "numeric(12,2)", true), ("integer", "numeric(11,2)", false),
            ("bigint", "numeric(19,0)", true), ("bigint", "numeric(20,2)", false), ("smallint", "numeric(5,0)", true),
            ("integer", "double precision", true), ("bigint", "double precision", false), ("real", "double precision", true),
            ("double precision", "real", false), ("integer", "real", false), ("numeric(10,2)", "numeric(12,2)", true),
            ("numeric(10,2)", "numeric(11,3)", true), ("numeric(10,2)", "numeric(10,3)", false), ("numeric(10,2)", "numeric(10,1)", false),
            ("numeric(10,2)", "numeric", true), ("numeric", "numeric(10,2)", false), ("numeric", "integer", false),
            // Strings and bits.
            ("character varying(50)", "character varying", true), ("character varying", "character varying(50)", false),
            ("character(5)", "text", true), ("character(5)", "character varying(5)", true), ("character(5)", "character varying(4)", false),
            ("character(5)", "character(8)", true), ("character(8)", "character(5)", false), ("character(5)", "character varying", true),
            ("text", "citext", false), ("bit varying(5)", "bit varying(8)", true), ("bit varying(8)", "bit varying(5)", false),
            ("bit varying(8)", "bit varying", true), ("bit(3)", "bit(4)", false),
            // Times.
            ("timestamp(3) without time zone", "timestamp without time zone", true),
            ("timestamp without time zone", "timestamp(3) without time zone", false),
            ("timestamp(3) with time zone", "timestamp(6) with time zone", true), ("time(2) without time zone", "time(4) without time zone", true),
            ("interval(3)", "interval", true), ("interval", "interval(3)", false), ("timestamp with time zone", "timestamp without time zone", false),
            // Arrays, equal types and oddities.
            ("integer[]", "bigint[]", true), ("bigint[]", "integer[]", false), ("integer[]", "bigint", false), ("integer", "integer[]", false),
            ("character varying(5)[][]", "text[][]", true), ("text", "text", true), ("geometry(Point,4326)", "geometry(Point,4326)", true),
            ("geometry(Point,4326)", "geometry", false), ("uuid", "text", false),
        ])
    func widening(_ from: String, _ to: String, _ widens: Bool) {
        #expect(ColumnTypeWidening.isWidening(from: from, to: to) == widens)
    }

    @Test("nullability: NOT NULL breaking, relaxed additive")
    func nullability() throws {
        let nullable = SchemaSnapshot(tables: [usersWithEmail(column("email", "text"))])
        let required = SchemaSnapshot(tables: [usersWithEmail(column("email", "text", null: false))])
        let tightened = try only(nullable, required)
        #expect(lines([tightened]) == ["column public.users.email changed breaking"])
        #expect(tightened.reason == "column becomes NOT NULL")
        #expect(tightened.from == "text" && tightened.to == "text NOT NULL")
        let relaxed = try only(required, nullable)
        #expect(lines([relaxed]) == ["column public.users.email changed additive"])
        #expect(relaxed.reason == nil)
    }

    @Test("defaults: added, changed and removed from a nullable column additive; removed from a NOT NULL column breaking")
    func defaults() throws {
        func snapshot(_ expression: String?, null: Bool) -> SchemaSnapshot {
            SchemaSnapshot(tables: [usersWithEmail(column("email", "text", null: null, default: expression))])
        }
        #expect(try only(snapshot(nil, null: false), snapshot("'a'::text", null: false)).classification == .additive)
        #expect(try only(snapshot("'a'::text", null: false), snapshot("'b'::text", null: false)).classification == .additive)
        #expect(try only(snapshot("'a'::text", null: true), snapshot(nil, null: true)).classification == .additive)
        let removed = try only(snapshot("'a'::text", null: false), snapshot(nil, null: false))
        #expect(removed.isBreaking && removed.reason == "default removed from a NOT NULL column")
        #expect(removed.from == "text DEFAULT 'a'::text NOT NULL" && removed.to == "text NOT NULL")
    }

    @Test("identity and generated columns; several reasons are joined")
    func identityAndGenerated() throws {
        let plain = SchemaSnapshot(tables: [usersWith(column("n", "integer", null: false, default: "0"))])
        let always = SchemaSnapshot(tables: [usersWith(column("n", "integer", null: false, identity: "a"))])
        let byDefault = SchemaSnapshot(tables: [usersWith(column("n", "integer", null: false, identity: "d"))])
        let generated = SchemaSnapshot(tables: [usersWith(column("n", "integer", null: false, generated: "(id * 2)"))])
        #expect(try only(plain, always).reason == "GENERATED ALWAYS identity rejects written values")
        #expect(try only(plain, byDefault).classification == .additive)
        #expect(try only(byDefault, always).reason == "GENERATED ALWAYS identity rejects written values")
        #expect(try only(always, byDefault).classification == .additive)
        #expect(try only(plain, generated).reason == "column becomes generated: writes to it fail")
        #expect(try only(generated, plain).classification == .additive)

        let loose = SchemaSnapshot(tables: [usersWith(column("n", "text"))])
        #expect(try only(loose, always).reason == "type text → integer is not a widening; column becomes NOT NULL; GENERATED ALWAYS identity rejects written values")
    }

    @Test("primary keys: added, dropped and changed are breaking; renamed with the same columns is no change")
    func primaryKeys() throws {
        let keyless = SchemaSnapshot(tables: [edited(users) { $0.primaryKey = nil; $0.constraints = []; $0.indexes = [] }])
        let added = try only(keyless, base)
        #expect(added == SchemaChange(
            objectType: "primary key", name: "public.users", change: .added, classification: .breaking, from: nil, to: "PRIMARY KEY (id)",
            reason: "new primary key restricts writes"))
        let dropped = try only(base, keyless)
        #expect(lines([dropped]) == ["primary key public.users removed breaking"])
        #expect(dropped.reason == "primary key dropped: ON CONFLICT on it fails")

        let wider = SchemaSnapshot(tables: [edited(users) {
            $0.primaryKey = ["id", "email"]
            $0.constraints = [ConstraintSchema(name: "users_pkey", type: "p", definition: "PRIMARY KEY (id, email)")]
        }])
        let changed = try only(base, wider)
        #expect(lines([changed]) == ["primary key public.users changed breaking"])
        #expect(changed.reason == "primary key changed" && changed.from == "PRIMARY KEY (id)" && changed.to == "PRIMARY KEY (id, email)")

        let renamed = SchemaSnapshot(tables: [edited(users) {
            $0.constraints = [ConstraintSchema(name: "users_key", type: "p", definition: "PRIMARY KEY (id)")]
            $0.indexes = [NamedDefinition(name: "users_key", definition: "CREATE UNIQUE INDEX users_key ON public.users USING btree (id)")]
        }])
        #expect(SchemaDiff.compare(base, renamed) == [])
    }

    @Test("constraints: any added restricts writes; dropped unique ones break ON CONFLICT; dropped checks and foreign keys are additive")
    func constraints() throws {
        let unique = ConstraintSchema(name: "users_email_key", type: "u", definition: "UNIQUE (email)")
        let uniqueIndex = NamedDefinition(name: "users_email_key", definition: "CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)")
        let foreign = ConstraintSchema(name: "users_email_fkey", type: "f", definition: "FOREIGN KEY (email) REFERENCES emails(address)")
        let check = ConstraintSchema(name: "users_email_check", type: "c", definition: "CHECK ((email <> ''::text))")
        let exclusion = ConstraintSchema(name: "users_email_excl", type: "x", definition: "EXCLUDE USING gist (email WITH =)")
        func with(_ constraint: ConstraintSchema, index: NamedDefinition? = nil) -> SchemaSnapshot {
            SchemaSnapshot(tables: [edited(users) {
                $0.constraints.append(constraint)
                if let index { $0.indexes.append(index) }
            }])
        }
        // The index behind a unique constraint is not listed on its own.
        let addedUnique = try only(base, with(unique, index: uniqueIndex))
        #expect(addedUnique == SchemaChange(
            objectType: "constraint", name: "public.users.users_email_key", change: .added, classification: .breaking, from: nil,
            to: "UNIQUE (email)", reason: "new unique constraint restricts writes"))
        #expect(try only(with(unique, index: uniqueIndex), base).reason == "unique constraint dropped: ON CONFLICT on it fails")
        #expect(try only(base, with(exclusion)).reason == "new exclusion constraint restricts writes")
        #expect(try only(with(exclusion), base).reason == "exclusion constraint dropped: ON CONFLICT on it fails")

        #expect(try only(base, with(foreign)).reason == "new foreign key restricts writes")
        let droppedForeign = try only(with(foreign), base)
        #expect(lines([droppedForeign]) == ["constraint public.users.users_email_fkey removed additive"])

        #expect(try only(base, with(check)).reason == "new check constraint restricts writes")
        #expect(lines([try only(with(check), base)]) == ["constraint public.users.users_email_check removed additive"])
        let stricter = ConstraintSchema(name: "users_email_check", type: "c", definition: "CHECK ((length(email) > 3))")
        let changed = try only(with(check), with(stricter))
        #expect(lines([changed]) == ["constraint public.users.users_email_check changed breaking"])
        #expect(changed.reason == "check constraint changed" && changed.from == check.definition && changed.to == stricter.definition)
    }

    @Test("indexes: plain ones additive either way, unique ones breaking")
    func indexes() throws {
        let plain = NamedDefinition(name: "users_email_idx", definition: "CREATE INDEX users_email_idx ON public.users USING btree (email)")
        let hash = NamedDefinition(name: "users_email_idx", definition: "CREATE INDEX users_email_idx ON public.users USING hash (email)")
        let unique = NamedDefinition(name: "users_email_idx", definition: "CREATE UNIQUE INDEX users_email_idx ON public.users USING btree (email)")
        func with(_ index: NamedDefinition) -> SchemaSnapshot { SchemaSnapshot(tables: [edited(users) { $0.indexes.append(index) }]) }
        #expect(lines([try only(base, with(plain))]) == ["index public.users.users_email_idx added additive"])
        #expect(lines([try only(with(plain), base)]) == ["index public.users.users_email_idx removed additive"])
        #expect(lines([try only(with(plain), with(hash))]) == ["index public.users.users_email_idx changed additive"])
        #expect(try only(base, with(unique)).reason == "new unique index restricts writes")
        #expect(try only(with(unique), base).reason == "unique index dropped: ON CONFLICT on it fails")
        #expect(try only(with(plain), with(unique)).reason == "unique index changed")
        #expect(try only(base, with(plain)).to == plain.definition)
    }

    @Test("views: added additive, dropped breaking, changed breaking only when known output columns change")
    func views() throws {
        let view = NamedDefinition(name: "public.v", definition: "CREATE VIEW public.v AS\n SELECT users.id FROM users", details: ["id bigint"])
        let sameColumns = NamedDefinition(name: "public.v", definition: "CREATE VIEW public.v AS\n SELECT users.id FROM users WHERE true", details: ["id bigint"])
        let appended = NamedDefinition(
            name: "public.v", definition: "CREATE VIEW public.v AS\n SELECT users.id, users.email FROM users", details: ["id bigint", "email text"])
        let retyped = NamedDefinition(name: "public.v", definition: "CREATE VIEW public.v AS\n SELECT users.id::text FROM users", details: ["id text"])
        let materialized = NamedDefinition(
            name: "public.v", definition: "CREATE MATERIALIZED VIEW public.v AS\n SELECT users.id FROM users", details: ["id bigint"])
        func with(_ view: NamedDefinition) -> SchemaSnapshot { SchemaSnapshot(views: [view]) }
        #expect(lines([try only(SchemaSnapshot(), with(view))]) == ["view public.v added additive"])
        let dropped = try only(with(view), SchemaSnapshot())
        #expect(lines([dropped]) == ["view public.v removed breaking"] && dropped.reason == "view dropped")
        #expect(lines([try only(with(view), with(sameColumns))]) == ["view public.v changed additive"])
        #expect(lines([try only(with(view), with(appended))]) == ["view public.v changed additive"])
        #expect(try only(with(appended), with(view)).reason == "output columns changed")
        #expect(try only(with(view), with(retyped)).reason == "output columns changed")
        #expect(try only(with(view), with(materialized)).reason == "changed between view and materialized view")
    }

    @Test("functions: body changes additive, signature changes and drops breaking")
    func functions() throws {
        let function = NamedDefinition(
            name: "public.f(integer)", definition: "CREATE OR REPLACE FUNCTION public.f(x integer)\n RETURNS integer\n LANGUAGE sql\nAS $$ select x $$",
            details: ["function", "x integer", "integer"])
        var body = function
        body.definition = "CREATE OR REPLACE FUNCTION public.f(x integer)\n RETURNS integer\n LANGUAGE sql\nAS $$ select x + 1 $$"
        var result = function
        result.details = ["function", "x integer", "bigint"]
        func with(_ function: NamedDefinition) -> SchemaSnapshot { SchemaSnapshot(functions: [function]) }
        #expect(lines([try only(SchemaSnapshot(), with(function))]) == ["function public.f(integer) added additive"])
        #expect(try only(with(function), SchemaSnapshot()).reason == "function dropped")
        #expect(lines([try only(with(function), with(body))]) == ["function public.f(integer) changed additive"])
        #expect(try only(with(function), with(result)).reason == "signature changed (arguments, defaults or result)")
    }

    @Test("triggers: added and changed additive, dropped breaking; named and sorted with their table")
    func triggers() throws {
        let trigger = NamedDefinition(
            name: "public.users.audit", definition: "CREATE TRIGGER audit AFTER INSERT ON public.users FOR EACH ROW EXECUTE FUNCTION audit()",
            details: ["public", "users", "audit"])
        var changed = trigger
        changed.definition = "CREATE TRIGGER audit AFTER UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION audit()"
        let with = SchemaSnapshot(tables: [users], triggers: [trigger])
        #expect(lines([try only(base, with)]) == ["trigger public.users.audit added additive"])
        #expect(try only(with, base).reason == "trigger dropped")
        #expect(lines([try only(with, SchemaSnapshot(tables: [users], triggers: [changed]))]) == ["trigger public.users.audit changed additive"])
    }

    @Test("extensions: added and updated additive, dropped breaking")
    func extensions() throws {
        let uuid = NamedDefinition(name: "\"uuid-ossp\"", definition: "1.1", details: ["public"])
        var newer = uuid
        newer.definition = "1.2"
        #expect(lines([try only(SchemaSnapshot(), SchemaSnapshot(extensions: [uuid]))]) == ["extension \"uuid-ossp\" added additive"])
        #expect(try only(SchemaSnapshot(extensions: [uuid]), SchemaSnapshot()).reason == "extension dropped")
        let updated = try only(SchemaSnapshot(extensions: [uuid]), SchemaSnapshot(extensions: [newer]))
        #expect(lines([updated]) == ["extension \"uuid-ossp\" changed additive"] && updated.from == "1.1" && updated.to == "1.2")
    }

    @Test("policies: any change to an existing table's policies is breaking; a new table's policies are additive")
    func policies() throws {
        let policy = NamedDefinition(
            name: "public.users.own", definition: "CREATE POLICY own ON public.users AS PERMISSIVE FOR ALL TO PUBLIC USING ((id = 1))",
            details: ["public", "users", "own"])
        var changed = policy
        changed.definition = "CREATE POLICY own ON public.users AS PERMISSIVE FOR ALL TO PUBLIC USING ((id = 2))"
        let with = SchemaSnapshot(tables: [users], policies: [policy])
        let added = try only(base, with)
        #expect(lines([added]) == ["policy public.users.own added breaking"])
        #expect(added.reason == "new policy changes which rows can be read or written")
        #expect(try only(with, base).reason == "policy dropped")
        #expect(try only(with, SchemaSnapshot(tables: [users], policies: [changed])).reason == "policy changes which rows can be read or written")
        // With its table.
        #expect(lines(SchemaDiff.compare(SchemaSnapshot(), with)) == ["table public.users added additive", "policy public.users.own added additive"])
    }

    @Test("enums: added and labels added additive; labels removed or reordered breaking")
    func enums() throws {
        func mood(_ labels: [String]) -> SchemaSnapshot {
            SchemaSnapshot(enums: [NamedDefinition(name: "public.mood", definition: SQLText.enumDefinition(labels), details: labels)])
        }
        #expect(lines([try only(SchemaSnapshot(), mood(["a"]))]) == ["enum public.mood added additive"])
        #expect(try only(mood(["a"]), SchemaSnapshot()).reason == "enum dropped")
        #expect(lines([try only(mood(["a", "b"]), mood(["z", "a", "x", "b", "y"]))]) == ["enum public.mood changed additive"])
        #expect(try only(mood(["a", "b"]), mood(["a"])).reason == "enum label removed")
        #expect(try only(mood(["a", "b"]), mood(["b", "a"])).reason == "enum labels reordered")
        #expect(try only(mood(["a"]), mood(["a", "it's"])).to == "ENUM ('a', 'it''s')")
    }

    @Test("row level security: enabling breaking, disabling additive")
    func rowLevelSecurity() throws {
        let enabled = SchemaSnapshot(tables: [edited(users) { $0.rowLevelSecurity = true }])
        let on = try only(base, enabled)
        #expect(on == SchemaChange(
            objectType: "row level security", name: "public.users", change: .changed, classification: .breaking, from: "disabled", to: "enabled",
            reason: "row level security enabled: rows without a matching policy are hidden"))
        #expect(lines([try only(enabled, base)]) == ["row level security public.users changed additive"])
    }

    @Test("no rename detection: a renamed column or table is removed plus added")
    func renames() {
        let renamedColumn = SchemaSnapshot(tables: [usersWithEmail(column("mail", "text"))])
        #expect(lines(SchemaDiff.compare(base, renamedColumn)) == [
            "column public.users.email removed breaking", "column public.users.mail added additive",
        ])
        let renamedTable = SchemaSnapshot(tables: [edited(users) { $0.name = "people" }])
        #expect(lines(SchemaDiff.compare(base, renamedTable)) == ["table public.people added additive", "table public.users removed breaking"])
    }

    @Test("order: objects outside tables first (by type), then by table, type and name")
    func order() {
        let trigger = NamedDefinition(name: "public.users.audit", definition: "CREATE TRIGGER audit …", details: ["public", "users", "audit"])
        let to = SchemaSnapshot(
            tables: [
                TableSchema(schema: "public", name: "aaa", columns: [column("x", "text")], primaryKey: nil),
                edited(users) {
                    $0.columns.append(column("b", "text"))
                    $0.columns.append(column("a", "text"))
                    $0.indexes.append(NamedDefinition(name: "users_a_idx", definition: "CREATE INDEX users_a_idx ON public.users USING btree (a)"))
                    $0.constraints.append(ConstraintSchema(name: "users_a_check", type: "c", definition: "CHECK ((a <> ''::text))"))
                    $0.rowLevelSecurity = true
                },
            ],
            views: [NamedDefinition(name: "public.v", definition: "CREATE VIEW public.v AS SELECT 1", details: ["?column? integer"])],
            functions: [NamedDefinition(name: "public.f()", definition: "CREATE FUNCTION …", details: ["function", "", "integer"])],
            triggers: [trigger],
            extensions: [NamedDefinition(name: "hstore", definition: "1.8", details: ["public"])],
            enums: [NamedDefinition(name: "public.mood", definition: "ENUM ('a')", details: ["a"])])
        #expect(lines(SchemaDiff.compare(base, to)) == [
            "extension hstore added additive",
            "enum public.mood added additive",
            "function public.f() added additive",
            "view public.v added additive",
            "table public.aaa added additive",
            "row level security public.users changed breaking",
            "column public.users.a added additive",
            "column public.users.b added additive",
            "constraint public.users.users_a_check added breaking",
            "index public.users.users_a_idx added additive",
            "trigger public.users.audit added additive",
        ])
        let summary = SchemaChangeSummary(SchemaDiff.compare(base, to))
        #expect(summary != SchemaChangeSummary([]))
        #expect((summary.added, summary.removed, summary.changed, summary.additive, summary.breaking, summary.total) == (10, 0, 1, 9, 2, 11))
    }

    @Test("names are qualified and quoted as quote_ident does")
    func quotedNames() throws {
        let table = TableSchema(
            schema: "App", name: "Order Items", columns: [column("ID", "integer", null: false)], primaryKey: nil,
            indexes: [NamedDefinition(name: "by id", definition: "CREATE INDEX \"by id\" ON \"App\".\"Order Items\" USING btree (\"ID\")")])
        let before = SchemaSnapshot(tables: [table])
        let after = SchemaSnapshot(tables: [edited(table) {
            $0.columns.append(column("select", "text"))
            $0.columns.append(column("we\"ird", "text"))
            $0.indexes = []
        }])
        #expect(lines(SchemaDiff.compare(before, after)) == [
            "column \"App\".\"Order Items\".\"select\" added additive",
            "column \"App\".\"Order Items\".\"we\"\"ird\" added additive",
            "index \"App\".\"Order Items\".\"by id\" removed additive",
        ])
        #expect(table.qualifiedName == "\"App\".\"Order Items\"")
    }
}

@Suite("SQL names")
struct SQLNameLogicTests {
    @Test(
        "quoted only when needed",
        arguments: [
            ("users", "users"), ("_a1$", "_a1$"), ("Users", "\"Users\""), ("my table", "\"my table\""), ("we\"ird", "\"we\"\"ird\""),
            ("select", "\"select\""), ("user", "\"user\""), ("1abc", "\"1abc\""), ("", "\"\""), ("a-b", "\"a-b\""), ("a.b", "\"a.b\""),
            ("$a", "\"$a\""), ("9", "\"9\""), ("café", "café"), ("Ça", "\"Ça\""), ("δ1", "δ1"), ("a b", "\"a b\""),
        ])
    func quote(_ name: String, _ quoted: String) {
        #expect(SQLName.quote(name) == quoted)
    }
}

// MARK: - Schema DDL

@Suite("Schema DDL")
struct SchemaDDLLogicTests {
    let base = SchemaSnapshot(tables: [users])

    static let orders = TableSchema(
        schema: "public", name: "orders",
        columns: [
            column("id", "integer", null: false, default: "nextval('orders_id_seq'::regclass)"),
            column("user_id", "bigint", null: false),
            column("Total Amount", "numeric(10,2)", default: "0"),
        ],
        primaryKey: ["id"],
        indexes: [
            NamedDefinition(name: "orders_pkey", definition: "CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)"),
            NamedDefinition(name: "orders_user_id_idx", definition: "CREATE INDEX orders_user_id_idx ON public.orders USING btree (user_id)"),
        ],
        constraints: [
            ConstraintSchema(name: "orders_pkey", type: "p", definition: "PRIMARY KEY (id)"),
            ConstraintSchema(name: "orders_user_id_fkey", type: "f", definition: "FOREIGN KEY (user_id) REFERENCES users(id)"),
        ])

    @Test("an added table: sequence, CREATE TABLE with its primary key constraint, indexes, then foreign keys")
    func addedTable() throws {
        let to = SchemaSnapshot(tables: [Self.orders, users])
        #expect(try statements(base, to, "table", "public.orders") == [
            "CREATE SEQUENCE IF NOT EXISTS orders_id_seq AS integer",
            """
            CREATE TABLE public.orders (
                id integer DEFAULT nextval('orders_id_seq'::regclass) NOT NULL,
                user_id bigint NOT NULL,
                "Total Amount" numeric(10,2) DEFAULT 0,
                CONSTRAINT orders_pkey PRIMARY KEY (id)
            )
            """,
            "ALTER SEQUENCE orders_id_seq OWNED BY public.orders.id",
            "CREATE INDEX orders_user_id_idx ON public.orders USING btree (user_id)",
            "ALTER TABLE public.orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id)",
        ])
    }

    @Test("an added table with quoted names, a key without a known constraint, a unique constraint, a partition key and row level security")
    func addedTableQuoted() throws {
        let table = TableSchema(
            schema: "Sales", name: "Order Items",
            columns: [
                column("ID", "integer", null: false, identity: "d"), column("Say \"hi\"", "text"), column("select", "text"),
                column("at", "timestamp with time zone", null: false, default: "now()"), column("double", "integer", generated: "(\"ID\" * 2)"),
            ],
            primaryKey: ["ID", "at"],
            indexes: [NamedDefinition(name: "u", definition: "CREATE UNIQUE INDEX u ON ONLY \"Sales\".\"Order Items\" USING btree (\"select\", at)")],
            constraints: [ConstraintSchema(name: "u", type: "u", definition: "UNIQUE (\"select\", at)")],
            rowLevelSecurity: true, partitionKey: "RANGE (at)")
        #expect(try statements(SchemaSnapshot(), SchemaSnapshot(tables: [table]), "table", "\"Sales\".\"Order Items\"") == [
            #"""
            CREATE TABLE "Sales"."Order Items" (
                "ID" integer GENERATED BY DEFAULT AS IDENTITY NOT NULL,
                "Say ""hi""" text,
                "select" text,
                at timestamp with time zone DEFAULT now() NOT NULL,
                double integer GENERATED ALWAYS AS (("ID" * 2)) STORED,
                PRIMARY KEY ("ID", at)
            ) PARTITION BY RANGE (at)
            """#,
            "ALTER TABLE \"Sales\".\"Order Items\" ADD CONSTRAINT u UNIQUE (\"select\", at)",
            "ALTER TABLE \"Sales\".\"Order Items\" ENABLE ROW LEVEL SECURITY",
        ])
    }

    @Test("added, dropped and altered columns")
    func columns() throws {
        let status = column("Status Code", "text", null: false, default: "'new'::text")
        #expect(try statements(base, SchemaSnapshot(tables: [usersWith(status)]), "column", "public.users.\"Status Code\"") == [
            "ALTER TABLE public.users ADD COLUMN \"Status Code\" text DEFAULT 'new'::text NOT NULL"
        ])
        #expect(try statements(base, SchemaSnapshot(tables: [edited(users) { $0.columns.removeLast() }]), "column", "public.users.email") == [
            "ALTER TABLE public.users DROP COLUMN email"
        ])
        // A serial column brings its sequence.
        let serial = column("n", "bigint", null: false, default: "nextval('public.\"Users_n_seq\"'::regclass)")
        #expect(try statements(base, SchemaSnapshot(tables: [usersWith(serial)]), "column", "public.users.n") == [
            "CREATE SEQUENCE IF NOT EXISTS public.\"Users_n_seq\" AS bigint",
            "ALTER TABLE public.users ADD COLUMN n bigint DEFAULT nextval('public.\"Users_n_seq\"'::regclass) NOT NULL",
            "ALTER SEQUENCE public.\"Users_n_seq\" OWNED BY public.users.n",
        ])
        // A type change drops the old default first and sets the new one after.
        let before = SchemaSnapshot(tables: [usersWith(column("qty", "integer", null: false, default: "0"))])
        let after = SchemaSnapshot(tables: [usersWith(column("qty", "bigint", null: false, default: "1"))])
        #expect(try statements(before, after, "column", "public.users.qty") == [
            "ALTER TABLE public.users ALTER COLUMN qty DROP DEFAULT",
            "ALTER TABLE public.users ALTER COLUMN qty TYPE bigint USING qty::bigint",
            "ALTER TABLE public.users ALTER COLUMN qty SET DEFAULT 1",
        ])
        let nullable = SchemaSnapshot(tables: [usersWithEmail(column("email", "text"))])
        let required = SchemaSnapshot(tables: [usersWithEmail(column("email", "text", null: false))])
        #expect(try statements(nullable, required, "column", "public.users.email") == ["ALTER TABLE public.users ALTER COLUMN email SET NOT NULL"])
        #expect(try statements(required, nullable, "column", "public.users.email") == ["ALTER TABLE public.users ALTER COLUMN email DROP NOT NULL"])
        let defaulted = SchemaSnapshot(tables: [usersWithEmail(column("email", "text", default: "''::text"))])
        #expect(try statements(defaulted, nullable, "column", "public.users.email") == ["ALTER TABLE public.users ALTER COLUMN email DROP DEFAULT"])
    }

    @Test("identity and generated columns")
    func identityColumns() throws {
        func with(_ column: ColumnSchema) -> SchemaSnapshot { SchemaSnapshot(tables: [usersWith(column)]) }
        // Postgres only adds an identity to a NOT NULL column, so SET NOT NULL comes first.
        #expect(try statements(with(column("n", "integer")), with(column("n", "integer", null: false, identity: "a")), "column", "public.users.n") == [
            "ALTER TABLE public.users ALTER COLUMN n SET NOT NULL",
            "ALTER TABLE public.users ALTER COLUMN n ADD GENERATED ALWAYS AS IDENTITY",
        ])
        #expect(try statements(
            with(column("n", "integer", null: false, identity: "d")), with(column("n", "integer", null: false, identity: "a")), "column",
            "public.users.n") == ["ALTER TABLE public.users ALTER COLUMN n SET GENERATED ALWAYS"])
        #expect(try statements(with(column("n", "integer", null: false, identity: "a")), with(column("n", "integer")), "column", "public.users.n") == [
            "ALTER TABLE public.users ALTER COLUMN n DROP IDENTITY IF EXISTS",
            "ALTER TABLE public.users ALTER COLUMN n DROP NOT NULL",
        ])
        #expect(try statements(with(column("n", "integer", generated: "(id * 2)")), with(column("n", "integer")), "column", "public.users.n") == [
            "ALTER TABLE public.users ALTER COLUMN n DROP EXPRESSION"
        ])
        let regenerated = try plan(
            with(column("n", "integer", generated: "(id * 2)")), with(column("n", "integer", generated: "(id * 3)")), "column", "public.users.n")
        #expect(regenerated == .unsupported(reason: "Postgres cannot change a column's generation expression; drop the column and add it again"))
    }

    @Test("indexes: added as defined, dropped in the table's schema, changed by both")
    func indexes() throws {
        let index = NamedDefinition(name: "Users Email", definition: "CREATE INDEX \"Users Email\" ON public.users USING btree (email)")
        let other = NamedDefinition(name: "Users Email", definition: "CREATE INDEX \"Users Email\" ON public.users USING hash (email)")
        let with = SchemaSnapshot(tables: [edited(users) { $0.indexes.append(index) }])
        let changed = SchemaSnapshot(tables: [edited(users) { $0.indexes.append(other) }])
        #expect(try statements(base, with, "index", "public.users.\"Users Email\"") == [index.definition])
        #expect(try statements(with, base, "index", "public.users.\"Users Email\"") == ["DROP INDEX IF EXISTS public.\"Users Email\""])
        #expect(try statements(with, changed, "index", "public.users.\"Users Email\"") == [
            "DROP INDEX IF EXISTS public.\"Users Email\"", other.definition,
        ])
    }

    @Test("primary keys and constraints")
    func keysAndConstraints() throws {
        let wider = SchemaSnapshot(tables: [edited(users) {
            $0.primaryKey = ["id", "email"]
            $0.constraints = [ConstraintSchema(name: "users_pkey", type: "p", definition: "PRIMARY KEY (id, email)")]
        }])
        #expect(try statements(base, wider, "primary key", "public.users") == [
            "ALTER TABLE public.users DROP CONSTRAINT IF EXISTS users_pkey",
            "ALTER TABLE public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id, email)",
        ])
        let keyless = SchemaSnapshot(tables: [edited(users) { $0.primaryKey = nil; $0.constraints = []; $0.indexes = [] }])
        #expect(try statements(keyless, base, "primary key", "public.users") == ["ALTER TABLE public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id)"])
        #expect(try statements(base, keyless, "primary key", "public.users") == ["ALTER TABLE public.users DROP CONSTRAINT IF EXISTS users_pkey"])
        // Without the constraint's name the key cannot be dropped.
        let unnamed = SchemaSnapshot(tables: [edited(users) { $0.constraints = [] }])
        #expect(try plan(unnamed, keyless, "primary key", "public.users") == .unsupported(reason: "the primary key's constraint name is not known"))
        #expect(try statements(keyless, unnamed, "primary key", "public.users") == ["ALTER TABLE public.users ADD PRIMARY KEY (id)"])

        let check = ConstraintSchema(name: "Email Check", type: "c", definition: "CHECK ((email <> ''::text))")
        let stricter = ConstraintSchema(name: "Email Check", type: "c", definition: "CHECK ((length(email) > 3))")
        let withCheck = SchemaSnapshot(tables: [edited(users) { $0.constraints.append(check) }])
        let withStricter = SchemaSnapshot(tables: [edited(users) { $0.constraints.append(stricter) }])
        #expect(try statements(base, withCheck, "constraint", "public.users.\"Email Check\"") == [
            "ALTER TABLE public.users ADD CONSTRAINT \"Email Check\" CHECK ((email <> ''::text))"
        ])
        #expect(try statements(withCheck, withStricter, "constraint", "public.users.\"Email Check\"") == [
            "ALTER TABLE public.users DROP CONSTRAINT IF EXISTS \"Email Check\"",
            "ALTER TABLE public.users ADD CONSTRAINT \"Email Check\" CHECK ((length(email) > 3))",
        ])
    }

    @Test("a script creates every new table before any foreign key, whatever the order of the tables")
    func foreignKeysAfterTables() {
        let child = TableSchema(
            schema: "public", name: "a_child", columns: [column("id", "integer", null: false), column("parent_id", "integer")], primaryKey: ["id"],
            constraints: [
                ConstraintSchema(name: "a_child_pkey", type: "p", definition: "PRIMARY KEY (id)"),
                ConstraintSchema(name: "a_child_parent_id_fkey", type: "f", definition: "FOREIGN KEY (parent_id) REFERENCES b_parent(id)"),
            ])
        let parent = TableSchema(
            schema: "public", name: "b_parent", columns: [column("id", "integer", null: false)], primaryKey: ["id"],
            constraints: [ConstraintSchema(name: "b_parent_pkey", type: "p", definition: "PRIMARY KEY (id)")])
        let result = script(SchemaSnapshot(), SchemaSnapshot(tables: [child, parent]))
        #expect(result.skipped == [])
        #expect(result.statements == [
            "CREATE TABLE public.a_child (\n    id integer NOT NULL,\n    parent_id integer,\n    CONSTRAINT a_child_pkey PRIMARY KEY (id)\n)",
            "CREATE TABLE public.b_parent (\n    id integer NOT NULL,\n    CONSTRAINT b_parent_pkey PRIMARY KEY (id)\n)",
            "ALTER TABLE public.a_child ADD CONSTRAINT a_child_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES b_parent(id)",
        ])
    }

    @Test("a script drops the foreign keys of dropped tables before any table, so tables referencing each other can go together")
    func droppedTablesReferencingEachOther() throws {
        let parent = TableSchema(
            schema: "public", name: "a_parent", columns: [column("id", "integer", null: false)], primaryKey: ["id"],
            constraints: [ConstraintSchema(name: "a_parent_pkey", type: "p", definition: "PRIMARY KEY (id)")])
        let child = TableSchema(
            schema: "public", name: "b_child", columns: [column("id", "integer", null: false), column("parent_id", "integer")], primaryKey: ["id"],
            constraints: [
                ConstraintSchema(name: "b_child_pkey", type: "p", definition: "PRIMARY KEY (id)"),
                ConstraintSchema(name: "b_child_parent_id_fkey", type: "f", definition: "FOREIGN KEY (parent_id) REFERENCES a_parent(id)"),
            ])
        let from = SchemaSnapshot(tables: [parent, child])
        #expect(script(from, SchemaSnapshot()).statements == [
            "ALTER TABLE public.b_child DROP CONSTRAINT IF EXISTS b_child_parent_id_fkey",
            "DROP TABLE public.a_parent",
            "DROP TABLE public.b_child",
        ])
        #expect(try statements(from, SchemaSnapshot(tables: [child]), "table", "public.a_parent") == ["DROP TABLE public.a_parent"])
    }

    @Test("views: appended columns replace in place, anything else drops and creates")
    func views() throws {
        let view = NamedDefinition(name: "public.v", definition: "CREATE VIEW public.v AS\n SELECT users.id FROM users", details: ["id bigint"])
        let appended = NamedDefinition(
            name: "public.v", definition: "CREATE VIEW public.v AS\n SELECT users.id, users.email FROM users", details: ["id bigint", "email text"])
        let materialized = NamedDefinition(
            name: "public.v", definition: "CREATE MATERIALIZED VIEW public.v AS\n SELECT users.id FROM users", details: ["id bigint"])
        func with(_ view: NamedDefinition) -> SchemaSnapshot { SchemaSnapshot(views: [view]) }
        #expect(try statements(SchemaSnapshot(), with(view), "view", "public.v") == [view.definition])
        #expect(try statements(with(view), with(appended), "view", "public.v") == [
            "CREATE OR REPLACE VIEW public.v AS\n SELECT users.id, users.email FROM users"
        ])
        #expect(try statements(with(appended), with(view), "view", "public.v") == ["DROP VIEW IF EXISTS public.v", view.definition])
        #expect(try statements(with(view), with(materialized), "view", "public.v") == ["DROP VIEW IF EXISTS public.v", materialized.definition])
        #expect(try statements(with(materialized), SchemaSnapshot(), "view", "public.v") == ["DROP MATERIALIZED VIEW IF EXISTS public.v"])
    }

    @Test("functions: bodies replaced, signatures dropped and created, procedures dropped as procedures")
    func functions() throws {
        let function = NamedDefinition(
            name: "public.f(integer)", definition: "CREATE OR REPLACE FUNCTION public.f(x integer)\n RETURNS integer\n LANGUAGE sql\nAS $$ select x $$",
            details: ["function", "x integer", "integer"])
        var body = function
        body.definition = "CREATE OR REPLACE FUNCTION public.f(x integer)\n RETURNS integer\n LANGUAGE sql\nAS $$ select x + 1 $$"
        var result = function
        result.details = ["function", "x integer", "bigint"]
        let procedure = NamedDefinition(
            name: "public.p()", definition: "CREATE OR REPLACE PROCEDURE public.p()\n LANGUAGE sql\nAS $$ select 1 $$", details: ["procedure", "", ""])
        func with(_ function: NamedDefinition) -> SchemaSnapshot { SchemaSnapshot(functions: [function]) }
        #expect(try statements(SchemaSnapshot(), with(function), "function", "public.f(integer)") == [function.definition])
        #expect(try statements(with(function), with(body), "function", "public.f(integer)") == [body.definition])
        #expect(try statements(with(function), with(result), "function", "public.f(integer)") == [
            "DROP FUNCTION IF EXISTS public.f(integer)", result.definition,
        ])
        #expect(try statements(with(procedure), SchemaSnapshot(), "function", "public.p()") == ["DROP PROCEDURE IF EXISTS public.p()"])
    }

    @Test("triggers and policies are dropped by their own name on their table")
    func triggersAndPolicies() throws {
        let table = TableSchema(schema: "public", name: "My Table", columns: [column("id", "integer")], primaryKey: nil)
        let trigger = NamedDefinition(
            name: "public.\"My Table\".\"Audit Trigger\"",
            definition: "CREATE TRIGGER \"Audit Trigger\" AFTER INSERT ON public.\"My Table\" FOR EACH ROW EXECUTE FUNCTION audit()",
            details: ["public", "My Table", "Audit Trigger"])
        var changedTrigger = trigger
        changedTrigger.definition = "CREATE TRIGGER \"Audit Trigger\" AFTER UPDATE ON public.\"My Table\" FOR EACH ROW EXECUTE FUNCTION audit()"
        let policy = NamedDefinition(
            name: "public.\"My Table\".own", definition: "CREATE POLICY own ON public.\"My Table\" AS PERMISSIVE FOR ALL TO PUBLIC USING (true)",
            details: ["public", "My Table", "own"])
        let plain = SchemaSnapshot(tables: [table])
        #expect(try statements(plain, SchemaSnapshot(tables: [table], triggers: [trigger]), "trigger", trigger.name) == [trigger.definition])
        #expect(try statements(SchemaSnapshot(tables: [table], triggers: [trigger]), SchemaSnapshot(tables: [table], triggers: [changedTrigger]), "trigger", trigger.name) == [
            "DROP TRIGGER IF EXISTS \"Audit Trigger\" ON public.\"My Table\"", changedTrigger.definition,
        ])
        #expect(try statements(SchemaSnapshot(tables: [table], policies: [policy]), plain, "policy", policy.name) == [
            "DROP POLICY IF EXISTS own ON public.\"My Table\""
        ])
        // Without the table in its details a trigger cannot be dropped.
        var anonymous = trigger
        anonymous.details = nil
        anonymous.name = "t"
        #expect(try plan(SchemaSnapshot(tables: [table], triggers: [anonymous]), plain, "trigger", "t") == .unsupported(reason: "the trigger's table is not known"))
    }

    @Test("extensions, enums and row level security")
    func otherObjects() throws {
        let uuid = NamedDefinition(name: "\"uuid-ossp\"", definition: "1.1", details: ["extensions"])
        var newer = uuid
        newer.definition = "1.2"
        #expect(try statements(SchemaSnapshot(), SchemaSnapshot(extensions: [uuid]), "extension", uuid.name) == [
            "CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\" WITH SCHEMA extensions VERSION '1.1'"
        ])
        #expect(try statements(SchemaSnapshot(extensions: [uuid]), SchemaSnapshot(extensions: [newer]), "extension", uuid.name) == [
            "ALTER EXTENSION \"uuid-ossp\" UPDATE TO '1.2'"
        ])
        #expect(try statements(SchemaSnapshot(extensions: [uuid]), SchemaSnapshot(), "extension", uuid.name) == ["DROP EXTENSION IF EXISTS \"uuid-ossp\""])

        func mood(_ labels: [String]) -> SchemaSnapshot {
            SchemaSnapshot(enums: [NamedDefinition(name: "public.mood", definition: SQLText.enumDefinition(labels), details: labels)])
        }
        #expect(try statements(SchemaSnapshot(), mood(["a", "it's"]), "enum", "public.mood") == ["CREATE TYPE public.mood AS ENUM ('a', 'it''s')"])
        #expect(try statements(mood(["a", "b", "c"]), mood(["z", "a", "x", "b", "c", "y"]), "enum", "public.mood") == [
            "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'z' BEFORE 'a'",
            "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'x' AFTER 'a'",
            "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'y' AFTER 'c'",
        ])
        #expect(try statements(mood(["a"]), SchemaSnapshot(), "enum", "public.mood") == ["DROP TYPE IF EXISTS public.mood"])
        #expect(try plan(mood(["a", "b"]), mood(["b", "a"]), "enum", "public.mood") == .unsupported(reason: "Postgres cannot remove or reorder enum labels"))

        let secured = SchemaSnapshot(tables: [edited(users) { $0.rowLevelSecurity = true }])
        #expect(try statements(base, secured, "row level security", "public.users") == ["ALTER TABLE public.users ENABLE ROW LEVEL SECURITY"])
        #expect(try statements(secured, base, "row level security", "public.users") == ["ALTER TABLE public.users DISABLE ROW LEVEL SECURITY"])
    }

    @Test("changes without SQL come back in skipped, with the reason; the rest still runs")
    func skipped() {
        func mood(_ labels: [String]) -> NamedDefinition { NamedDefinition(name: "public.mood", definition: SQLText.enumDefinition(labels), details: labels) }
        let from = SchemaSnapshot(tables: [users], enums: [mood(["a", "b"])])
        let to = SchemaSnapshot(tables: [usersWith(column("note", "text"))], enums: [mood(["a"])])
        let changes = SchemaDiff.compare(from, to)
        let stray = SchemaChange(objectType: "column", name: "public.users.nope", change: .removed, classification: .breaking)
        let unknown = SchemaChange(objectType: "sequence", name: "public.s", change: .added, classification: .additive)
        let result = SchemaDDL.script(for: changes + [stray, unknown], from: from, to: to)
        #expect(result.statements == ["ALTER TABLE public.users ADD COLUMN note text"])
        #expect(result.skipped.map(\.reason) == [
            "Postgres cannot remove or reorder enum labels", "column public.users.nope is not in the snapshots", "unknown object type sequence",
        ])
        #expect(result.skipped.map(\.change.name) == ["public.mood", "public.users.nope", "public.s"])
        #expect(SchemaDDL.statements(for: unknown, from: from, to: to).reason == "unknown object type sequence")
        #expect(SchemaDDL.statements(for: unknown, from: from, to: to).statements == nil)
    }

    @Test("a script runs drops first, then creations in dependency order")
    func scriptOrder() {
        let view = NamedDefinition(name: "public.v", definition: "CREATE VIEW public.v AS\n SELECT users.email FROM users", details: ["email text"])
        let newView = NamedDefinition(name: "public.w", definition: "CREATE VIEW public.w AS\n SELECT users.note FROM users", details: ["note text"])
        let trigger = NamedDefinition(name: "public.users.t", definition: "CREATE TRIGGER t …", details: ["public", "users", "t"])
        let policy = NamedDefinition(name: "public.users.p", definition: "CREATE POLICY p ON public.users", details: ["public", "users", "p"])
        let from = SchemaSnapshot(tables: [users], views: [view], triggers: [trigger])
        let to = SchemaSnapshot(
            tables: [edited(users) {
                $0.columns = [column("id", "bigint", null: false), column("note", "text")]
                $0.indexes.append(NamedDefinition(name: "users_note_idx", definition: "CREATE INDEX users_note_idx ON public.users USING btree (note)"))
                $0.rowLevelSecurity = true
            }],
            views: [newView], extensions: [NamedDefinition(name: "citext", definition: "1.6", details: ["public"])], policies: [policy])
        let result = script(from, to)
        #expect(result.skipped == [])
        #expect(result.statements == [
            "DROP TRIGGER IF EXISTS t ON public.users",
            "DROP VIEW IF EXISTS public.v",
            "ALTER TABLE public.users DROP COLUMN email",
            "CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public VERSION '1.6'",
            "ALTER TABLE public.users ADD COLUMN note text",
            "CREATE INDEX users_note_idx ON public.users USING btree (note)",
            newView.definition,
            "ALTER TABLE public.users ENABLE ROW LEVEL SECURITY",
            policy.definition,
        ])
    }

    @Test("columnDefinition")
    func columnDefinition() {
        #expect(SchemaDDL.columnDefinition(column("a", "text")) == "text")
        #expect(SchemaDDL.columnDefinition(column("a", "integer", null: false, default: "1")) == "integer DEFAULT 1 NOT NULL")
        #expect(SchemaDDL.columnDefinition(column("a", "integer", null: false, identity: "a")) == "integer GENERATED ALWAYS AS IDENTITY NOT NULL")
        #expect(SchemaDDL.columnDefinition(column("a", "integer", generated: "(b + 1)")) == "integer GENERATED ALWAYS AS ((b + 1)) STORED")
        #expect(DDLBuilder.nextvalSequence("nextval('s'::regclass)") == "s")
        #expect(DDLBuilder.nextvalSequence("nextval('public.\"it''s\"'::regclass)") == "public.\"it's\"")
        #expect(DDLBuilder.nextvalSequence("nextval(''::regclass)") == nil)
        #expect(DDLBuilder.nextvalSequence("now()") == nil)
    }
}

// MARK: - Row diff (the parts without a server)

@Suite("Row diff logic")
struct RowDiffLogicTests {
    @Test("keyString tells NULL, '' and the text 'n' apart")
    func keyStrings() {
        let keys: [[String?]] = [[nil], [""], ["n"], ["v"], ["vn"], [nil, nil], [nil, ""], ["", nil], ["", ""], ["a", "b"], ["a\u{1F}b"]]
        #expect(Set(keys.map(RowDiffer.keyString)).count == keys.count)
        #expect(RowDiffer.keyString([nil]) == "n")
        #expect(RowDiffer.keyString([""]) == "v0:")
        #expect(RowDiffer.keyString(["n"]) == "v1:n")
        #expect(RowDiffer.keyString(["a", "b"]) != RowDiffer.keyString(["a\u{1F}b"]))
    }

    @Test("keyString with U+001F inside values")
    func keyStringSeparatorInValues() {
        // Values are length-prefixed: a value holding the separator cannot read as two values.
        #expect(RowDiffer.keyString(["a\u{1F}vb", "c"]) != RowDiffer.keyString(["a", "b\u{1F}vc"]))
        #expect(RowDiffer.keyString(["a\u{1F}n"]) != RowDiffer.keyString(["a", nil]))
        #expect(RowDiffer.keyString(["a\u{1F}v1:b"]) != RowDiffer.keyString(["a", "b"]))
    }

    static let from = TableSchema(
        schema: "public", name: "Docs",
        columns: [
            column("id", "integer", null: false), column("Name", "text"), column("doc", "jsonb"), column("meta", "json"), column("gone", "text"),
        ],
        primaryKey: ["id"])
    static let to = TableSchema(
        schema: "public", name: "Docs",
        columns: [
            column("id", "integer", null: false), column("doc", "jsonb"), column("Name", "text"), column("meta", "json"), column("added", "jsonb"),
        ],
        primaryKey: ["id"])

    @Test("TableComparison: shared columns in the first side's order, quoted; json and jsonb flagged; the shared primary key")
    func comparison() {
        let comparison = TableComparison(from: Self.from, to: Self.to)
        #expect(comparison.table == "public.\"Docs\"")
        #expect(comparison.columnNames == ["id", "Name", "doc", "meta"])
        #expect(comparison.columns == ["id", "\"Name\"", "doc", "meta"])
        #expect(comparison.jsonColumns == ["doc", "meta"])
        #expect(comparison.keyNames == ["id"] && comparison.keyColumns == ["id"] && comparison.keyTypes == ["integer"])
        #expect(comparison.hasKey && comparison.isIntegerKey)
        #expect(comparison.keyTuple == "id")
        #expect(comparison.rowHash == "hashtextextended(row(id, \"Name\", doc, meta)::text, 0)")
    }

    @Test("TableComparison matches by key only when both sides have the same primary key")
    func comparisonKeys() {
        func key(_ from: [String]?, _ to: [String]?) -> TableComparison {
            TableComparison(from: edited(Self.from) { $0.primaryKey = from }, to: edited(Self.to) { $0.primaryKey = to })
        }
        #expect(!key(["id"], ["id", "Name"]).hasKey)
        #expect(!key(["id", "Name"], ["Name", "id"]).hasKey)
        #expect(!key(nil, ["id"]).hasKey)
        #expect(!key(["id"], nil).hasKey)
        #expect(!key(nil, nil).hasKey)
        #expect(!key([], []).hasKey)
        #expect(key(nil, nil).keyNames == [] && key(nil, nil).keyTypes == [])
        let composite = key(["Name", "id"], ["Name", "id"])
        #expect(composite.keyNames == ["Name", "id"] && composite.keyColumns == ["\"Name\"", "id"] && composite.keyTypes == ["text", "integer"])
        #expect(composite.keyTuple == "(\"Name\", id)" && composite.keyOrder == "\"Name\", id")
        #expect(!composite.isIntegerKey)
        let none = TableComparison(
            from: TableSchema(schema: "s", name: "t", columns: [column("a", "text")], primaryKey: nil),
            to: TableSchema(schema: "s", name: "t", columns: [column("b", "text")], primaryKey: nil))
        #expect(none.columns == [] && none.rowHash == "0::bigint" && none.jsonColumns == [])
    }

    @Test("a changed row lists its changed columns, json ones with a patch; added and removed rows come whole")
    func change() {
        let comparison = TableComparison(from: Self.from, to: Self.to)
        let old: [String: String?] = ["id": "1", "Name": "a", "doc": #"{"a": 1, "b": [1, 2]}"#, "meta": nil]
        let new: [String: String?] = ["id": "1", "Name": "b", "doc": #"{"a": 2, "b": [1]}"#, "meta": #"{"x": null}"#]
        let delta = RowDelta(kind: .changed, key: ["id": "1"], keyValues: ["1"], old: old, new: new)
        let result = RowDiffer.change(delta, table: comparison)
        #expect(result.table == "public.\"Docs\"" && result.kind == .changed && result.key == ["id": "1"] && result.row == nil)
        #expect(result.columns == [
            ColumnChange(column: "Name", old: "a", new: "b"),
            ColumnChange(
                column: "doc", old: #"{"a": 1, "b": [1, 2]}"#, new: #"{"a": 2, "b": [1]}"#,
                patch: [
                    JSONPatchOperation(op: .replace, path: "/a", value: .integer(2)),
                    JSONPatchOperation(op: .remove, path: "/b/1"),
                ]),
            ColumnChange(
                column: "meta", old: nil, new: #"{"x": null}"#,
                patch: [JSONPatchOperation(op: .add, path: "", value: jsonObject(["x": .null]))]),
        ])
        let added = RowDiffer.change(RowDelta(kind: .added, key: ["id": "2"], keyValues: ["2"], old: nil, new: new), table: comparison)
        #expect(added == RowChange(table: "public.\"Docs\"", kind: .added, key: ["id": "2"], row: new))
        let keyless = TableComparison(from: edited(Self.from) { $0.primaryKey = nil }, to: Self.to)
        let removed = RowDiffer.change(RowDelta(kind: .removed, key: [:], keyValues: [], old: old, new: nil, count: 3), table: keyless)
        #expect(removed == RowChange(table: "public.\"Docs\"", kind: .removed, key: [:], row: old, count: 3))
    }
    @Test("the column tally counts each column a modified row changed, most changed first; added and removed rows count none")
    func columnTally() {
        let comparison = TableComparison(from: Self.from, to: Self.to)
        var tally = ColumnTally(comparison)
        let row: (String, String?, String?) -> [String: String?] = { name, doc, meta in ["id": "1", "Name": name, "doc": doc, "meta": meta] }
        tally.add(RowDelta(kind: .changed, key: ["id": "1"], keyValues: ["1"], old: row("a", "{}", nil), new: row("b", "{}", nil)))
        tally.add(RowDelta(kind: .changed, key: ["id": "2"], keyValues: ["2"], old: row("a", "{}", nil), new: row("c", "[]", "{}")))
        tally.add(RowDelta(kind: .changed, key: ["id": "3"], keyValues: ["3"], old: row("a", nil, nil), new: row("a", "{}", nil)))
        tally.add(RowDelta(kind: .added, key: ["id": "4"], keyValues: ["4"], old: nil, new: row("x", nil, nil)))
        tally.add(RowDelta(kind: .removed, key: ["id": "5"], keyValues: ["5"], old: row("x", nil, nil), new: nil))
        let counts = tally.counts(complete: false)
        #expect(counts.table == "public.\"Docs\"" && counts.rows == 3 && !counts.complete)
        #expect(counts.counts.map(\.column) == ["Name", "doc", "meta"] && counts.counts.map(\.changed) == [2, 2, 1])
        #expect(ColumnTally(comparison).counts(complete: true) == ColumnChangeCounts(table: comparison.table, rows: 0, counts: [], complete: true))
    }
}
