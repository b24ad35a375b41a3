import Foundation

/// One difference between two schema snapshots, and whether it can break what already works.
package struct SchemaChange: Codable, Sendable, Equatable {
    /// `table`, `column`, `primary key`, `index`, `constraint`, `view`, `function`, `trigger`,
    /// `extension`, `policy`, `enum` or `row level security`.
    package var objectType: String
    /// Qualified, each part quoted as needed: `schema.table`, `schema.table.column`,
    /// `schema.table.index`, `schema.view`, `schema.function(args)`, `schema.table.trigger`, `extension`.
    package var name: String
    package var change: SchemaChangeKind
    /// Additive, or breaking (can break existing clients or existing data).
    package var classification: SchemaChangeClass
    /// The object's definition before and after (nil on the side where it does not exist).
    package var from: String?
    package var to: String?
    /// Why a breaking change is breaking, in a few words; nil for additive changes.
    package var reason: String?

    package var isBreaking: Bool { classification == .breaking }
}

/// What happened to a schema object from the first side to the second.
package enum SchemaChangeKind: String, Codable, Sendable {
    case added, removed, changed
}

/// Whether a schema change can break existing clients or data.
package enum SchemaChangeClass: String, Codable, Sendable {
    case additive, breaking
}

/// Counts of a list of schema changes, for a one-line summary.
package struct SchemaChangeSummary: Codable, Sendable, Equatable {
    package var added: Int
    package var removed: Int
    package var changed: Int
    package var additive: Int
    package var breaking: Int

    package init(_ changes: [SchemaChange]) {
        added = changes.count { $0.change == .added }
        removed = changes.count { $0.change == .removed }
        changed = changes.count { $0.change == .changed }
        breaking = changes.count(where: \.isBreaking)
        additive = changes.count - breaking
    }

    package var total: Int { added + removed + changed }
}

/// Compares two schema snapshots object by object.
package enum SchemaDiff {
    /// The changes that turn `from` into `to`, ordered by table (objects outside tables first),
    /// then object type, then name. A renamed object shows as removed plus added. The columns,
    /// keys, indexes and constraints of a table that is added or removed are not listed
    /// separately (the table change covers them); its triggers and policies are.
    ///
    /// Indexes that back a primary key, unique or exclusion constraint are not compared (the
    /// constraint is), and neither is column order.
    package static func compare(_ from: SchemaSnapshot, _ to: SchemaSnapshot) -> [SchemaChange] {
        let before = SchemaCatalog(from)
        let after = SchemaCatalog(to)
        var changes: [(key: SchemaCatalog.SortKey, change: SchemaChange)] = []
        for key in Set(before.entries.keys).union(after.entries.keys) {
            let old = before.entries[key]
            let new = after.entries[key]
            guard let entry = new ?? old else { continue }
            // Children of a table that only one side has come with the table.
            if entry.type.isTablePart, let table = entry.table, before.tables[table] == nil || after.tables[table] == nil { continue }
            let kind: SchemaChangeKind
            switch (old, new) {
            case (nil, _): kind = .added
            case (_, nil): kind = .removed
            case (let old?, let new?):
                guard !old.object.sameAs(new.object) else { continue }
                kind = .changed
            }
            let reason = ChangeClassifier(from: before, to: after).breakingReason(kind: kind, old: old, new: new)
            changes.append((entry.sortKey, SchemaChange(
                objectType: entry.type.rawValue, name: entry.name, change: kind,
                classification: reason == nil ? .additive : .breaking,
                from: old?.text, to: new?.text, reason: reason)))
        }
        return changes.sorted { $0.key < $1.key }.map(\.change)
    }
}

/// The kinds of objects a snapshot holds, named as in `SchemaChange.objectType`; the order of the
/// cases is the order within one table (or among the objects outside tables).
enum SchemaObjectType: String, CaseIterable, Comparable {
    case `extension`, `enum`, function, view
    case table, rowLevelSecurity = "row level security", column, primaryKey = "primary key", constraint, index, trigger, policy

    static func < (lhs: Self, rhs: Self) -> Bool { allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)! }

    /// Parts of a table that exist only with it (triggers and policies are listed on their own in a snapshot).
    var isTablePart: Bool { [.rowLevelSecurity, .column, .primaryKey, .constraint, .index].contains(self) }
}

/// What is compared of one object.
enum SchemaObject: Equatable {
    case table(TableSchema)
    case column(ColumnSchema)
    /// The key's columns in order and the name of its constraint when known.
    case primaryKey(columns: [String], constraintName: String?)
    case index(NamedDefinition)
    case constraint(ConstraintSchema)
    case rowLevelSecurity(Bool)
    /// Views, functions, triggers, extensions, policies, enums.
    case definition(NamedDefinition)

    /// Whether the two differ in anything the diff reports (a table differs only through its parts;
    /// a primary key renamed with the same columns is the same key).
    func sameAs(_ other: SchemaObject) -> Bool {
        switch (self, other) {
        case (.table, .table): true
        case (.primaryKey(let lhs, _), .primaryKey(let rhs, _)): lhs == rhs
        default: self == other
        }
    }
}

/// A snapshot flattened into objects keyed by type and qualified name.
struct SchemaCatalog {
    struct Key: Hashable {
        let type: SchemaObjectType
        let name: String
    }

    /// Table, then type, then name; objects outside tables sort under the empty table name.
    struct SortKey: Comparable {
        let table: String
        let type: SchemaObjectType
        let name: String

        static func < (lhs: Self, rhs: Self) -> Bool {
            (lhs.table, lhs.type, lhs.name) < (rhs.table, rhs.type, rhs.name)
        }
    }

    struct Entry {
        let type: SchemaObjectType
        let name: String
        /// The qualified name of the table (or view) the object belongs to.
        let table: String?
        let object: SchemaObject
        /// The object as shown in `SchemaChange.from` and `to`.
        let text: String

        var sortKey: SortKey { SortKey(table: table ?? "", type: type, name: name) }
    }

    let snapshot: SchemaSnapshot
    private(set) var entries: [Key: Entry] = [:]
    /// Tables by qualified name.
    private(set) var tables: [String: TableSchema] = [:]

    init(_ snapshot: SchemaSnapshot) {
        self.snapshot = snapshot
        for table in snapshot.tables { addTable(table) }
        for view in snapshot.views { add(.view, view.name, nil, .definition(view), view.definition) }
        for function in snapshot.functions { add(.function, function.name, nil, .definition(function), function.definition) }
        for trigger in snapshot.triggers { add(.trigger, trigger.name, Self.ownerTable(trigger), .definition(trigger), trigger.definition) }
        for policy in snapshot.policies { add(.policy, policy.name, Self.ownerTable(policy), .definition(policy), policy.definition) }
        for item in snapshot.extensions { add(.extension, item.name, nil, .definition(item), item.definition) }
        for item in snapshot.enums { add(.enum, item.name, nil, .definition(item), item.definition) }
    }

    subscript(_ type: SchemaObjectType, _ name: String) -> Entry? { entries[Key(type: type, name: name)] }

    private mutating func addTable(_ table: TableSchema) {
        let tableName = table.qualifiedName
        tables[tableName] = table
        add(.table, tableName, tableName, .table(table), SchemaDDL.columnList(table))
        add(.rowLevelSecurity, tableName, tableName, .rowLevelSecurity(table.rowLevelSecurity), table.rowLevelSecurity ? "enabled" : "disabled")
        for column in table.columns {
            add(.column, Self.childName(table, column.name), tableName, .column(column), SchemaDDL.columnDefinition(column))
        }
        let keyConstraint = table.constraints.first { $0.type == "p" }
        if let key = table.primaryKey {
            add(.primaryKey, tableName, tableName, .primaryKey(columns: key, constraintName: keyConstraint?.name), SchemaDDL.primaryKeyClause(key))
        }
        for constraint in table.constraints where constraint.type != "p" {
            add(.constraint, Self.childName(table, constraint.name), tableName, .constraint(constraint), constraint.definition)
        }
        // An index made by a constraint is named after it; the constraint stands for it.
        let constraintIndexes = Set(table.constraints.filter { ["p", "u", "x"].contains($0.type) }.map(\.name))
        for index in table.indexes where !constraintIndexes.contains(index.name) {
            add(.index, Self.childName(table, index.name), tableName, .index(index), index.definition)
        }
    }

    private mutating func add(_ type: SchemaObjectType, _ name: String, _ table: String?, _ object: SchemaObject, _ text: String) {
        entries[Key(type: type, name: name)] = Entry(type: type, name: name, table: table, object: object, text: text)
    }

    /// `schema.table.child`, each part quoted as needed.
    static func childName(_ table: TableSchema, _ child: String) -> String { "\(table.qualifiedName).\(SQLName.quote(child))" }

    /// The table a trigger or policy is on, from its details (`schema`, `table`, `name`).
    static func ownerTable(_ definition: NamedDefinition) -> String? {
        guard let details = definition.details, details.count == 3 else { return nil }
        return "\(SQLName.quote(details[0])).\(SQLName.quote(details[1]))"
    }

    /// The table a column, index or constraint change belongs to, and the child's own name.
    func tableAndChild(_ type: SchemaObjectType, _ name: String) -> (table: TableSchema, child: String)? {
        guard let entry = self[type, name], let tableName = entry.table, let table = tables[tableName] else { return nil }
        switch entry.object {
        case .column(let column): return (table, column.name)
        case .index(let index): return (table, index.name)
        case .constraint(let constraint): return (table, constraint.name)
        default: return (table, table.name)
        }
    }
}

/// Decides whether one change is breaking, and says why.
struct ChangeClassifier {
    let from: SchemaCatalog
    let to: SchemaCatalog

    /// A few words on why the change is breaking; nil when it is additive.
    func breakingReason(kind: SchemaChangeKind, old: SchemaCatalog.Entry?, new: SchemaCatalog.Entry?) -> String? {
        switch (old?.object, new?.object) {
        case (nil, .some(let object)): added(object, new!)
        case (.some(let object), nil): removed(object, old!)
        case (.some(let before), .some(let after)): changed(before, after, new!)
        case (nil, nil): nil
        }
    }

    private func added(_ object: SchemaObject, _ entry: SchemaCatalog.Entry) -> String? {
        switch object {
        case .column(let column):
            let filledIn = column.defaultExpression != nil || column.generated != nil || column.identity != nil
            return !column.nullable && !filledIn ? "new NOT NULL column without a default" : nil
        case .primaryKey: return "new primary key restricts writes"
        case .constraint(let constraint): return "new \(Self.constraintKind(constraint.type)) restricts writes"
        case .index(let index): return Self.isUnique(index) ? "new unique index restricts writes" : nil
        case .definition where entry.type == .policy:
            // A policy on a table that is new itself cannot change what existing clients see.
            if let table = entry.table, from.tables[table] == nil, to.tables[table] != nil { return nil }
            return "new policy changes which rows can be read or written"
        default: return nil
        }
    }

    private func removed(_ object: SchemaObject, _ entry: SchemaCatalog.Entry) -> String? {
        switch object {
        case .index(let index): return Self.isUnique(index) ? "unique index dropped: ON CONFLICT on it fails" : nil
        case .constraint(let constraint) where ["u", "x"].contains(constraint.type):
            return "\(Self.constraintKind(constraint.type)) dropped: ON CONFLICT on it fails"
        case .constraint: return nil
        case .primaryKey: return "primary key dropped: ON CONFLICT on it fails"
        default: return "\(entry.type.rawValue) dropped"
        }
    }

    private func changed(_ before: SchemaObject, _ after: SchemaObject, _ entry: SchemaCatalog.Entry) -> String? {
        switch (before, after) {
        case (.column(let old), .column(let new)): return Self.columnReasons(old, new)
        case (.primaryKey, .primaryKey): return "primary key changed"
        case (.constraint, .constraint(let constraint)): return "\(Self.constraintKind(constraint.type)) changed"
        case (.index, .index(let index)): return Self.isUnique(index) ? "unique index changed" : nil
        case (.rowLevelSecurity, .rowLevelSecurity(let enabled)):
            return enabled ? "row level security enabled: rows without a matching policy are hidden" : nil
        case (.definition(let old), .definition(let new)): return definitionReason(entry.type, old, new)
        default: return nil
        }
    }

    private func definitionReason(_ type: SchemaObjectType, _ old: NamedDefinition, _ new: NamedDefinition) -> String? {
        switch type {
        case .view:
            // Clients keep working as long as every output column they know is still there, in
            // its place, with its type; columns added at the end are additive.
            let before = old.details ?? [], after = new.details ?? []
            if old.definition.hasPrefix("CREATE MATERIALIZED") != new.definition.hasPrefix("CREATE MATERIALIZED") {
                return "changed between view and materialized view"
            }
            return after.starts(with: before) ? nil : "output columns changed"
        case .function:
            return old.details == new.details ? nil : "signature changed (arguments, defaults or result)"
        case .enum:
            let before = old.details ?? [], after = new.details ?? []
            if !Set(before).isSubset(of: after) { return "enum label removed" }
            return after.filter(Set(before).contains) == before ? nil : "enum labels reordered"
        case .policy: return "policy changes which rows can be read or written"
        default: return nil
        }
    }

    static func columnReasons(_ old: ColumnSchema, _ new: ColumnSchema) -> String? {
        var reasons: [String] = []
        if old.type != new.type && !ColumnTypeWidening.isWidening(from: old.type, to: new.type) {
            reasons.append("type \(old.type) → \(new.type) is not a widening")
        }
        if old.nullable && !new.nullable { reasons.append("column becomes NOT NULL") }
        if old.defaultExpression != nil && new.defaultExpression == nil && !new.nullable && new.identity == nil && new.generated == nil {
            reasons.append("default removed from a NOT NULL column")
        }
        if new.identity == "a" && old.identity != "a" { reasons.append("GENERATED ALWAYS identity rejects written values") }
        if new.generated != nil && old.generated == nil { reasons.append("column becomes generated: writes to it fail") }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    static func constraintKind(_ type: String) -> String {
        switch type {
        case "p": "primary key"
        case "u": "unique constraint"
        case "f": "foreign key"
        case "c": "check constraint"
        case "x": "exclusion constraint"
        default: "constraint"
        }
    }

    static func isUnique(_ index: NamedDefinition) -> Bool { index.definition.hasPrefix("CREATE UNIQUE INDEX") }
}

/// Which column type changes keep every existing value and its meaning, so clients that wrote
/// and read the old type keep working:
///
/// - `smallint` → `integer` → `bigint`; any of them → unconstrained `numeric` or a `numeric(p,s)`
///   with at least 5, 10 or 19 integer digits; `smallint`, `integer` → `double precision`;
///   `real` → `double precision`.
/// - `numeric(p,s)` → `numeric(p2,s2)` with `s2 ≥ s` and `p2 − s2 ≥ p − s` (no digits lost on
///   either side of the point), or → unconstrained `numeric`.
/// - `character varying(n)` → `character varying(m ≥ n)`, unconstrained `character varying` or
///   `text`; `character(n)` → any of those with room for n, or `character(m ≥ n)`;
///   `text` ↔ unconstrained `character varying` (the same thing).
/// - `bit varying(n)` → `bit varying(m ≥ n)` or unconstrained `bit varying`.
/// - `time`, `timetz`, `timestamp`, `timestamptz` and `interval` with more (or default, 6)
///   fractional digits.
/// - Arrays of the above, element by element.
///
/// Not widenings: `timestamp` → `timestamptz` (values are reinterpreted in the session's time
/// zone), `json` → `jsonb` (key order and duplicate keys are lost), integer → `real`, text →
/// `citext`, anything narrowing.
package enum ColumnTypeWidening {
    /// Whether changing a column from `from` to `to` (both as `format_type` prints them) is a widening.
    package static func isWidening(from: String, to: String) -> Bool {
        if from == to { return true }
        let (oldBase, oldDepth) = stripArray(from)
        let (newBase, newDepth) = stripArray(to)
        guard oldDepth == newDepth, let old = ParsedType(oldBase), let new = ParsedType(newBase) else { return false }
        if old == new { return true }
        return widens(old, new)
    }

    /// Digits an integer type needs in a `numeric` column.
    private static let integerDigits = ["smallint": 5, "integer": 10, "bigint": 19]
    private static let integerRank = ["smallint": 1, "integer": 2, "bigint": 3]
    private static let textLike: Set<String> = ["character varying", "text"]
    private static let timeKinds: Set<String> = [
        "time without time zone", "time with time zone", "timestamp without time zone", "timestamp with time zone", "interval",
    ]

    private static func widens(_ old: ParsedType, _ new: ParsedType) -> Bool {
        switch (old.name, new.name) {
        case let (from, to) where integerRank[from] != nil && integerRank[to] != nil:
            return integerRank[to]! > integerRank[from]!
        case let (from, "numeric") where integerDigits[from] != nil:
            guard let precision = new.modifiers.first else { return true }
            return precision - (new.modifiers.dropFirst().first ?? 0) >= integerDigits[from]!
        case ("smallint", "double precision"), ("integer", "double precision"), ("real", "double precision"):
            return true
        case ("numeric", "numeric"):
            guard !new.modifiers.isEmpty else { return true }
            guard old.modifiers.count == 2, new.modifiers.count == 2 else { return false }
            let (p, s, p2, s2) = (old.modifiers[0], old.modifiers[1], new.modifiers[0], new.modifiers[1])
            return s2 >= s && p2 - s2 >= p - s
        case ("character varying", "text"):
            return true
        case ("text", "character varying") where new.modifiers.isEmpty:
            return true
        case ("character varying", "character varying"), ("bit varying", "bit varying"):
            return hasRoom(old, new)
        case ("character", let to) where textLike.contains(to) || to == "character":
            return to == "text" || hasRoom(old, new)
        case let (from, to) where from == to && timeKinds.contains(from):
            // No precision means the most there is (6).
            return (new.modifiers.first ?? 6) >= (old.modifiers.first ?? 6)
        default:
            return false
        }
    }

    /// Whether `new`'s length limit (none = unlimited) holds every value of `old`'s.
    private static func hasRoom(_ old: ParsedType, _ new: ParsedType) -> Bool {
        guard let newLength = new.modifiers.first else { return true }
        guard let oldLength = old.modifiers.first else { return false }
        return newLength >= oldLength
    }

    private static func stripArray(_ type: String) -> (String, Int) {
        var base = Substring(type)
        var depth = 0
        while base.hasSuffix("[]") {
            base = base.dropLast(2)
            depth += 1
        }
        return (String(base), depth)
    }

    /// A `format_type` name split into the type and its modifiers: `timestamp(3) without time zone`
    /// → `timestamp without time zone`, [3]; `numeric(10,2)` → `numeric`, [10, 2].
    private struct ParsedType: Equatable {
        var name: String
        var modifiers: [Int]

        init?(_ text: String) {
            guard let open = text.firstIndex(of: "("), let close = text[open...].firstIndex(of: ")") else {
                name = text == "bpchar" ? "character" : text
                modifiers = []
                return
            }
            let values = text[text.index(after: open)..<close].split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard values.allSatisfy({ $0 != nil }) else { return nil }
            name = String(text[..<open]) + String(text[text.index(after: close)...])
            modifiers = values.map { $0! }
        }
    }
}
