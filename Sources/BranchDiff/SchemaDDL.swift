import Foundation

/// The SQL that applies schema changes to another database (the target of a merge): each change
/// of `SchemaDiff.compare(from, to)` becomes statements that make the target look like `to`
/// for that object. Identifiers are quoted with `SQLName.quote`; definitions come verbatim from
/// `pg_get_*def`, so they carry that server's `search_path` qualification.
///
/// Statements never cascade: a drop that something else still depends on fails on the target
/// rather than taking the dependent object with it.
package enum SchemaDDL {
    /// The statements for one change, or why there are none.
    package enum Plan: Sendable, Equatable {
        case statements([String])
        case unsupported(reason: String)

        package var statements: [String]? { if case .statements(let list) = self { list } else { nil } }
        package var reason: String? { if case .unsupported(let reason) = self { reason } else { nil } }
    }

    /// The statements that apply `change` (found by `SchemaDiff.compare(from, to)`), in the order
    /// they must run; a table's foreign keys come after its other statements.
    package static func statements(for change: SchemaChange, from: SchemaSnapshot, to: SchemaSnapshot) -> Plan {
        switch DDLBuilder(from: SchemaCatalog(from), to: SchemaCatalog(to)).steps(for: change) {
        case .success(let steps): .statements(DDLStep.ordered(steps))
        case .failure(let failure): .unsupported(reason: failure.reason)
        }
    }

    /// One script for many changes, ordered so that dependencies hold: drops first (policies,
    /// triggers and views before the tables, columns and functions they use; foreign keys before
    /// the keys they reference), then extensions, enums, tables, columns, keys, constraints,
    /// indexes, foreign keys (so new tables can reference each other), functions, views,
    /// triggers, row level security and policies. Changes without SQL are listed in `skipped`.
    package static func script(for changes: [SchemaChange], from: SchemaSnapshot, to: SchemaSnapshot) -> SchemaScript {
        let builder = DDLBuilder(from: SchemaCatalog(from), to: SchemaCatalog(to))
        var steps: [DDLStep] = []
        var skipped: [SchemaScript.Skipped] = []
        for change in changes {
            switch builder.steps(for: change) {
            case .success(let more): steps += more
            case .failure(let failure): skipped.append(.init(change: change, reason: failure.reason))
            }
        }
        return SchemaScript(statements: DDLStep.ordered(steps), skipped: skipped)
    }

    /// A column as in `CREATE TABLE`, without its name: `type [DEFAULT …] [GENERATED …] [NOT NULL]`.
    package static func columnDefinition(_ column: ColumnSchema) -> String {
        var parts = [column.type]
        if let expression = column.defaultExpression { parts.append("DEFAULT \(expression)") }
        if let expression = column.generated { parts.append("GENERATED ALWAYS AS (\(expression)) STORED") }
        if let identity = column.identity { parts.append("GENERATED \(identity == "a" ? "ALWAYS" : "BY DEFAULT") AS IDENTITY") }
        if !column.nullable { parts.append("NOT NULL") }
        return parts.joined(separator: " ")
    }

    /// `(name type …, name type …)`: a table as `SchemaChange` shows it.
    static func columnList(_ table: TableSchema) -> String {
        "(" + table.columns.map { "\(SQLName.quote($0.name)) \(columnDefinition($0))" }.joined(separator: ", ") + ")"
    }

    /// `PRIMARY KEY (a, b)`.
    static func primaryKeyClause(_ columns: [String]) -> String { "PRIMARY KEY (\(columns.map(SQLName.quote).joined(separator: ", ")))" }
}

/// A script of statements for many schema changes, and the changes it leaves out.
package struct SchemaScript: Codable, Sendable, Equatable {
    package struct Skipped: Codable, Sendable, Equatable {
        package var change: SchemaChange
        package var reason: String
    }

    package var statements: [String]
    package var skipped: [Skipped]
}

/// When a statement runs within a script; the cases are in running order.
enum DDLPhase: Int, Comparable {
    case dropPolicy, dropTrigger, dropView, dropForeignKey, dropConstraint, dropIndex, dropColumn, dropTable, dropFunction, dropEnum
    case dropExtension, createExtension, createEnum, createTable, addColumn, alterColumn, addPrimaryKey, addConstraint, createIndex
    case addForeignKey, createFunction, createView, createTrigger, rowLevelSecurity, createPolicy

    static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

struct DDLStep {
    let phase: DDLPhase
    let sql: String

    init(_ phase: DDLPhase, _ sql: String) {
        self.phase = phase
        self.sql = sql
    }

    /// By phase, keeping the given order within a phase (sequence before table, …).
    static func ordered(_ steps: [DDLStep]) -> [String] {
        steps.enumerated().sorted { ($0.element.phase, $0.offset) < ($1.element.phase, $1.offset) }.map(\.element.sql)
    }
}

struct DDLFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Turns one change into statements, looking objects up in the two snapshots.
struct DDLBuilder {
    let from: SchemaCatalog
    let to: SchemaCatalog

    func steps(for change: SchemaChange) -> Result<[DDLStep], DDLFailure> {
        guard let type = SchemaObjectType(rawValue: change.objectType) else { return .failure(DDLFailure("unknown object type \(change.objectType)")) }
        let old = change.change == SchemaChangeKind.added ? nil : from[type, change.name]
        let new = change.change == SchemaChangeKind.removed ? nil : to[type, change.name]
        if change.change != SchemaChangeKind.added && old == nil || change.change != SchemaChangeKind.removed && new == nil {
            return .failure(DDLFailure("\(change.objectType) \(change.name) is not in the snapshots"))
        }
        do {
            return .success(try steps(type, old, new))
        } catch {
            return .failure(error)
        }
    }

    private func steps(_ type: SchemaObjectType, _ old: SchemaCatalog.Entry?, _ new: SchemaCatalog.Entry?) throws(DDLFailure) -> [DDLStep] {
        let entry = (new ?? old)!
        switch (old?.object, new?.object) {
        case (_, .table(let table)?): return createTable(table)
        case (.table(let table)?, nil):
            // Its foreign keys go first, with the other foreign key drops: tables dropped together
            // that reference each other then drop in any order (DROP TABLE does not cascade).
            let foreignKeys = table.constraints.filter { $0.type == "f" }.flatMap { constraintSteps(table, $0, nil) }
            return foreignKeys + [DDLStep(.dropTable, "DROP TABLE \(table.qualifiedName)")]
        case (.rowLevelSecurity?, .rowLevelSecurity(let enabled)?):
            return [DDLStep(.rowLevelSecurity, "ALTER TABLE \(entry.name) \(enabled ? "ENABLE" : "DISABLE") ROW LEVEL SECURITY")]
        case (let before, let after) where type == .column:
            return try columnSteps(try table(of: entry), before.flatMap(Self.column), after.flatMap(Self.column))
        case (let before, let after) where type == .primaryKey:
            let table = try table(of: entry)
            return try dropPrimaryKey(table, before) + addPrimaryKey(table, after)
        case (let before, let after) where type == .constraint:
            let table = try table(of: entry)
            return constraintSteps(table, before.flatMap(Self.constraint), after.flatMap(Self.constraint))
        case (let before, let after) where type == .index:
            let table = try table(of: entry)
            var steps: [DDLStep] = []
            if case .index(let index)? = before { steps.append(DDLStep(.dropIndex, "DROP INDEX IF EXISTS \(Self.sibling(table, index.name))")) }
            if case .index(let index)? = after { steps.append(DDLStep(.createIndex, index.definition)) }
            return steps
        case (let before, let after):
            return try definitionSteps(type, before.flatMap(Self.definition), after.flatMap(Self.definition))
        }
    }

    // MARK: Tables and their parts

    private func createTable(_ table: TableSchema) -> [DDLStep] {
        var steps: [DDLStep] = []
        var lines = table.columns.map { "\(SQLName.quote($0.name)) \(SchemaDDL.columnDefinition($0))" }
        if let key = table.primaryKey {
            let constraint = table.constraints.first { $0.type == "p" }
            lines.append((constraint.map { "CONSTRAINT \(SQLName.quote($0.name)) " } ?? "") + (constraint?.definition ?? SchemaDDL.primaryKeyClause(key)))
        }
        for column in table.columns { steps += sequenceSteps(table, column).create }
        var create = "CREATE TABLE \(table.qualifiedName) (\n    " + lines.joined(separator: ",\n    ") + "\n)"
        if let partitionKey = table.partitionKey { create += " PARTITION BY \(partitionKey)" }
        steps.append(DDLStep(.createTable, create))
        for column in table.columns { steps += sequenceSteps(table, column).own }
        for constraint in table.constraints where constraint.type != "p" {
            steps += constraintSteps(table, nil, constraint)
        }
        let constraintIndexes = Set(table.constraints.filter { ["p", "u", "x"].contains($0.type) }.map(\.name))
        for index in table.indexes where !constraintIndexes.contains(index.name) {
            steps.append(DDLStep(.createIndex, index.definition))
        }
        if table.rowLevelSecurity { steps.append(DDLStep(.rowLevelSecurity, "ALTER TABLE \(table.qualifiedName) ENABLE ROW LEVEL SECURITY")) }
        return steps
    }

    private func columnSteps(_ table: TableSchema, _ old: ColumnSchema?, _ new: ColumnSchema?) throws(DDLFailure) -> [DDLStep] {
        let alter = "ALTER TABLE \(table.qualifiedName)"
        guard let new else { return [DDLStep(.dropColumn, "\(alter) DROP COLUMN \(SQLName.quote(old!.name))")] }
        let sequence = sequenceSteps(table, new)
        guard let old else {
            return sequence.create.map { DDLStep(.addColumn, $0.sql) }
                + [DDLStep(.addColumn, "\(alter) ADD COLUMN \(SQLName.quote(new.name)) \(SchemaDDL.columnDefinition(new))")]
                + sequence.own.map { DDLStep(.addColumn, $0.sql) }
        }
        if let generated = new.generated, generated != old.generated {
            throw DDLFailure("Postgres cannot change a column's generation expression; drop the column and add it again")
        }
        let column = "\(alter) ALTER COLUMN \(SQLName.quote(new.name))"
        let typeChanged = old.type != new.type
        let defaultChanged = old.defaultExpression != new.defaultExpression
        var statements: [String] = []
        if old.identity != nil && new.identity == nil { statements.append("\(column) DROP IDENTITY IF EXISTS") }
        if old.generated != nil && new.generated == nil { statements.append("\(column) DROP EXPRESSION") }
        // The old default may not cast to the new type: drop it first, set the new one after.
        if old.defaultExpression != nil && (defaultChanged || typeChanged) { statements.append("\(column) DROP DEFAULT") }
        if typeChanged { statements.append("\(column) TYPE \(new.type) USING \(SQLName.quote(new.name))::\(new.type)") }
        if let expression = new.defaultExpression, defaultChanged || typeChanged {
            statements += sequence.create.map(\.sql) + ["\(column) SET DEFAULT \(expression)"] + sequence.own.map(\.sql)
        }
        // Before ADD GENERATED … AS IDENTITY, which Postgres refuses on a column that may hold NULL.
        if old.nullable && !new.nullable { statements.append("\(column) SET NOT NULL") }
        if let identity = new.identity, identity != old.identity {
            let kind = identity == "a" ? "ALWAYS" : "BY DEFAULT"
            statements.append(old.identity == nil ? "\(column) ADD GENERATED \(kind) AS IDENTITY" : "\(column) SET GENERATED \(kind)")
        }
        if !old.nullable && new.nullable { statements.append("\(column) DROP NOT NULL") }
        return statements.map { DDLStep(.alterColumn, $0) }
    }

    /// A `serial` column's sequence (its default is `nextval('seq'::regclass)`): created before
    /// the column, owned by it after, as `serial` itself does.
    private func sequenceSteps(_ table: TableSchema, _ column: ColumnSchema) -> (create: [DDLStep], own: [DDLStep]) {
        guard let sequence = column.defaultExpression.flatMap(Self.nextvalSequence) else { return ([], []) }
        let type = ["smallint", "integer", "bigint"].contains(column.type) ? " AS \(column.type)" : ""
        return (
            [DDLStep(.createTable, "CREATE SEQUENCE IF NOT EXISTS \(sequence)\(type)")],
            [DDLStep(.createTable, "ALTER SEQUENCE \(sequence) OWNED BY \(table.qualifiedName).\(SQLName.quote(column.name))")]
        )
    }

    /// `seq` of `nextval('seq'::regclass)`: already a (quoted where needed) qualified name.
    static func nextvalSequence(_ expression: String) -> String? {
        let prefix = "nextval('", suffix = "'::regclass)"
        guard expression.hasPrefix(prefix), expression.hasSuffix(suffix), expression.count > prefix.count + suffix.count else { return nil }
        return String(expression.dropFirst(prefix.count).dropLast(suffix.count)).replacingOccurrences(of: "''", with: "'")
    }

    private func dropPrimaryKey(_ table: TableSchema, _ object: SchemaObject?) throws(DDLFailure) -> [DDLStep] {
        guard case .primaryKey(_, let name)? = object else { return [] }
        guard let name else { throw DDLFailure("the primary key's constraint name is not known") }
        return [DDLStep(.dropConstraint, "ALTER TABLE \(table.qualifiedName) DROP CONSTRAINT IF EXISTS \(SQLName.quote(name))")]
    }

    private func addPrimaryKey(_ table: TableSchema, _ object: SchemaObject?) -> [DDLStep] {
        guard case .primaryKey(let columns, let name)? = object else { return [] }
        let definition = to.tables[table.qualifiedName]?.constraints.first { $0.type == "p" }?.definition ?? SchemaDDL.primaryKeyClause(columns)
        let named = name.map { "CONSTRAINT \(SQLName.quote($0)) " } ?? ""
        return [DDLStep(.addPrimaryKey, "ALTER TABLE \(table.qualifiedName) ADD \(named)\(definition)")]
    }

    private func constraintSteps(_ table: TableSchema, _ old: ConstraintSchema?, _ new: ConstraintSchema?) -> [DDLStep] {
        var steps: [DDLStep] = []
        if let old {
            let sql = "ALTER TABLE \(table.qualifiedName) DROP CONSTRAINT IF EXISTS \(SQLName.quote(old.name))"
            steps.append(DDLStep(old.type == "f" ? .dropForeignKey : .dropConstraint, sql))
        }
        if let new {
            let sql = "ALTER TABLE \(table.qualifiedName) ADD CONSTRAINT \(SQLName.quote(new.name)) \(new.definition)"
            steps.append(DDLStep(new.type == "f" ? .addForeignKey : .addConstraint, sql))
        }
        return steps
    }

    // MARK: Objects outside tables

    private func definitionSteps(_ type: SchemaObjectType, _ old: NamedDefinition?, _ new: NamedDefinition?) throws(DDLFailure) -> [DDLStep] {
        switch type {
        case .view: return viewSteps(old, new)
        case .function: return functionSteps(old, new)
        case .trigger, .policy: return try tableObjectSteps(type, old, new)
        case .extension:
            let name = (new ?? old)!.name
            guard let new else { return [DDLStep(.dropExtension, "DROP EXTENSION IF EXISTS \(name)")] }
            if old != nil { return [DDLStep(.createExtension, "ALTER EXTENSION \(name) UPDATE TO \(SQLText.literal(new.definition))")] }
            let schema = new.details?.first.map { " WITH SCHEMA \(SQLName.quote($0))" } ?? ""
            return [DDLStep(.createExtension, "CREATE EXTENSION IF NOT EXISTS \(name)\(schema) VERSION \(SQLText.literal(new.definition))")]
        case .enum: return try enumSteps(old, new)
        default: throw DDLFailure("no SQL for a \(type.rawValue) change")
        }
    }

    private func viewSteps(_ old: NamedDefinition?, _ new: NamedDefinition?) -> [DDLStep] {
        let materialized = { (view: NamedDefinition) in view.definition.hasPrefix("CREATE MATERIALIZED VIEW") }
        let drop = { (view: NamedDefinition) in
            DDLStep(.dropView, "DROP \(materialized(view) ? "MATERIALIZED VIEW" : "VIEW") IF EXISTS \(view.name)")
        }
        guard let new else { return [drop(old!)] }
        guard let old else { return [DDLStep(.createView, new.definition)] }
        // CREATE OR REPLACE VIEW keeps dependent objects, but only takes columns added at the end.
        if !materialized(old) && !materialized(new) && (new.details ?? []).starts(with: old.details ?? []),
            new.definition.hasPrefix("CREATE VIEW ")
        {
            return [DDLStep(.createView, "CREATE OR REPLACE VIEW " + new.definition.dropFirst("CREATE VIEW ".count))]
        }
        return [drop(old), DDLStep(.createView, new.definition)]
    }

    private func functionSteps(_ old: NamedDefinition?, _ new: NamedDefinition?) -> [DDLStep] {
        let drop = { (function: NamedDefinition) in
            let kind = function.details?.first == "procedure" || function.definition.hasPrefix("CREATE OR REPLACE PROCEDURE") ? "PROCEDURE" : "FUNCTION"
            return DDLStep(.dropFunction, "DROP \(kind) IF EXISTS \(function.name)")
        }
        guard let new else { return [drop(old!)] }
        // pg_get_functiondef says CREATE OR REPLACE, which cannot change the result type or argument defaults.
        if let old, old.details != new.details { return [drop(old), DDLStep(.createFunction, new.definition)] }
        return [DDLStep(.createFunction, new.definition)]
    }

    private func tableObjectSteps(_ type: SchemaObjectType, _ old: NamedDefinition?, _ new: NamedDefinition?) throws(DDLFailure) -> [DDLStep] {
        var steps: [DDLStep] = []
        if let old {
            guard let details = old.details, details.count == 3 else { throw DDLFailure("the \(type.rawValue)'s table is not known") }
            let table = "\(SQLName.quote(details[0])).\(SQLName.quote(details[1]))"
            let sql = "DROP \(type == .trigger ? "TRIGGER" : "POLICY") IF EXISTS \(SQLName.quote(details[2])) ON \(table)"
            steps.append(DDLStep(type == .trigger ? .dropTrigger : .dropPolicy, sql))
        }
        if let new { steps.append(DDLStep(type == .trigger ? .createTrigger : .createPolicy, new.definition)) }
        return steps
    }

    private func enumSteps(_ old: NamedDefinition?, _ new: NamedDefinition?) throws(DDLFailure) -> [DDLStep] {
        guard let new else { return [DDLStep(.dropEnum, "DROP TYPE IF EXISTS \(old!.name)")] }
        let labels = new.details ?? []
        guard let old else { return [DDLStep(.createEnum, "CREATE TYPE \(new.name) AS \(SQLText.enumDefinition(labels))")] }
        let existing = old.details ?? []
        guard labels.filter(Set(existing).contains) == existing else {
            throw DDLFailure("Postgres cannot remove or reorder enum labels")
        }
        // Each new label goes after the one before it (added just before, or already there);
        // labels ahead of every existing one go before the first existing one.
        var steps: [DDLStep] = []
        for (position, label) in labels.enumerated() where !existing.contains(label) {
            var sql = "ALTER TYPE \(new.name) ADD VALUE IF NOT EXISTS \(SQLText.literal(label))"
            if position > 0 {
                sql += " AFTER \(SQLText.literal(labels[position - 1]))"
            } else if let first = existing.first {
                sql += " BEFORE \(SQLText.literal(first))"
            }
            steps.append(DDLStep(.createEnum, sql))
        }
        return steps
    }

    // MARK: Lookups

    private func table(of entry: SchemaCatalog.Entry) throws(DDLFailure) -> TableSchema {
        guard let name = entry.table, let table = to.tables[name] ?? from.tables[name] else {
            throw DDLFailure("the table of \(entry.name) is not in the snapshots")
        }
        return table
    }

    /// An object in the table's schema (indexes live there).
    private static func sibling(_ table: TableSchema, _ name: String) -> String { "\(SQLName.quote(table.schema)).\(SQLName.quote(name))" }

    private static func column(_ object: SchemaObject) -> ColumnSchema? { if case .column(let column) = object { column } else { nil } }
    private static func constraint(_ object: SchemaObject) -> ConstraintSchema? {
        if case .constraint(let constraint) = object { constraint } else { nil }
    }
    private static func definition(_ object: SchemaObject) -> NamedDefinition? {
        if case .definition(let definition) = object { definition } else { nil }
    }
}
