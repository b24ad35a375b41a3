import BranchCore
package import BranchPostgres
import Foundation

/// Reads a `SchemaSnapshot` from a database's catalogs: one query per kind of object, every list
/// sorted in Swift (not by the server's collation) so two snapshots line up the same way on any
/// machine.
///
/// What counts: objects in user schemas (not `pg_catalog`, `information_schema`, `pg_toast*`,
/// `pg_temp_*`, nor the data API's internal `_branch`, whose schema version every DDL bumps),
/// or only in `schemas` when given, and never objects that belong to an extension
/// (they come and go with `CREATE EXTENSION`, which the snapshot lists instead). Partitions are
/// left out: a partitioned table is listed once, as its parent.
///
/// Definitions come from `pg_get_*def` and `format_type`, which qualify names that are not on
/// the connection's `search_path`; compare snapshots read with the same `search_path`.
package enum SchemaIntrospector {
    /// A snapshot of `connection`'s database, limited to `schemas` when given.
    package static func snapshot(_ connection: PGConnection, schemas: [String]? = nil) async throws(PostgresError) -> SchemaSnapshot {
        let filter: [String?] = [schemas.map(CatalogQuery.textArray)]
        // Ten catalog queries in one round trip (pipeline mode), not ten.
        let answers = try await connection.pipeline(CatalogQuery.all.map { ($0, filter) })
        func rows(_ query: String) throws(PostgresError) -> PGRows {
            switch answers[CatalogQuery.all.firstIndex(of: query)!] {
            case .success(let rows)?: return rows
            case .failure(let error)?: throw error
            case nil: throw PostgresError(.postgresQueryFailed, "A catalog query was skipped after an earlier one failed.")
            }
        }
        var tables = CatalogQuery.tables(try rows(CatalogQuery.tablesSQL))
        CatalogQuery.addColumns(to: &tables, try rows(CatalogQuery.columnsSQL))
        CatalogQuery.addIndexes(to: &tables, try rows(CatalogQuery.indexesSQL))
        try CatalogQuery.addConstraints(to: &tables, try rows(CatalogQuery.constraintsSQL))
        return SchemaSnapshot(
            tables: tables.values.sorted { $0.qualifiedName < $1.qualifiedName },
            views: try CatalogQuery.views(try rows(CatalogQuery.viewsSQL)).sortedByName(),
            functions: CatalogQuery.functions(try rows(CatalogQuery.functionsSQL)).sortedByName(),
            triggers: CatalogQuery.triggers(try rows(CatalogQuery.triggersSQL)).sortedByName(),
            extensions: CatalogQuery.extensions(try rows(CatalogQuery.extensionsSQL)).sortedByName(),
            policies: try CatalogQuery.policies(try rows(CatalogQuery.policiesSQL)).sortedByName(),
            enums: try CatalogQuery.enums(try rows(CatalogQuery.enumsSQL)).sortedByName()
        )
    }
}

/// The catalog queries behind `SchemaIntrospector`, each taking the schema filter as `$1`
/// (a `text[]`, or NULL for every user schema).
enum CatalogQuery {
    /// Every query `SchemaIntrospector.snapshot` sends, in order.
    static let all = [tablesSQL, columnsSQL, indexesSQL, constraintsSQL, viewsSQL, functionsSQL, triggersSQL, extensionsSQL, policiesSQL, enumsSQL]

    /// The schema filter on a `pg_namespace` aliased `n`.
    static let schemaFilter = """
        CASE WHEN $1::text[] IS NULL
            THEN n.nspname NOT IN ('pg_catalog', 'information_schema', '_branch') AND n.nspname NOT LIKE 'pg\\_toast%'
                AND n.nspname NOT LIKE 'pg\\_temp\\_%'
            ELSE n.nspname = ANY ($1::text[]) AND n.nspname <> '_branch' END
        """

    /// Leaves out objects of `catalog` (e.g. `pg_class`) created by an extension.
    static func notInExtension(_ catalog: String, _ oid: String) -> String {
        "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '\(catalog)'::regclass AND d.objid = \(oid) AND d.deptype = 'e')"
    }

    static let tablesSQL = """
            SELECT c.oid, n.nspname, c.relname, c.relrowsecurity,
                CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND \(schemaFilter) AND \(notInExtension("pg_class", "c.oid"))
            """

    /// Tables by oid, still without columns, indexes and constraints.
    static func tables(_ rows: PGRows) -> [String: TableSchema] {
        var tables: [String: TableSchema] = [:]
        for row in rows.rows {
            tables[row[0]!] = TableSchema(
                schema: row[1]!, name: row[2]!, columns: [], primaryKey: nil, rowLevelSecurity: row[3] == "t", partitionKey: row[4])
        }
        return tables
    }

    // attgenerated 's' keeps its expression in pg_attrdef too: it is the generation expression, not a default.
    static let columnsSQL = """
            SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
                CASE WHEN a.attgenerated = 's' THEN pg_get_expr(ad.adbin, ad.adrelid) END,
                NULLIF(a.attidentity, '')
            FROM pg_attribute a
                JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
            WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND \(schemaFilter)
            ORDER BY a.attrelid, a.attnum
            """

    static func addColumns(to tables: inout [String: TableSchema], _ rows: PGRows) {
        for row in rows.rows {
            tables[row[0]!]?.columns.append(ColumnSchema(
                name: row[1]!, type: row[2]!, nullable: row[3] != "t", defaultExpression: row[4], generated: row[5], identity: row[6]))
        }
    }

    static let indexesSQL = """
            SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
                JOIN pg_class ic ON ic.oid = i.indexrelid
                JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND \(schemaFilter)
            """

    static func addIndexes(to tables: inout [String: TableSchema], _ rows: PGRows) {
        for row in rows.rows {
            tables[row[0]!]?.indexes.append(NamedDefinition(name: row[1]!, definition: row[2]!))
        }
        for key in tables.keys { tables[key]?.indexes.sort { $0.name < $1.name } }
    }

    // The primary key's columns in key order (conkey is in key order; attnums are not).
    static let constraintsSQL = """
            SELECT con.conrelid, con.conname, con.contype, pg_get_constraintdef(con.oid),
                CASE WHEN con.contype = 'p' THEN (
                    SELECT json_agg(a.attname ORDER BY k.ord)
                    FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) END
            FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE con.contype IN ('p', 'u', 'f', 'c', 'x') AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND \(schemaFilter)
            """

    static func addConstraints(to tables: inout [String: TableSchema], _ rows: PGRows) throws(PostgresError) {
        for row in rows.rows {
            guard tables[row[0]!] != nil else { continue }
            tables[row[0]!]!.constraints.append(ConstraintSchema(name: row[1]!, type: row[2]!, definition: row[3]!))
            if let keyColumns = row[4] { tables[row[0]!]!.primaryKey = try decode([String].self, keyColumns) }
        }
        for key in tables.keys { tables[key]?.constraints.sort { $0.name < $1.name } }
    }

    static let viewsSQL = """
            SELECT n.nspname, c.relname, c.relkind, array_to_string(c.reloptions, ', '), pg_get_viewdef(c.oid, true),
                (SELECT json_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
                 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('v', 'm') AND \(schemaFilter) AND \(notInExtension("pg_class", "c.oid"))
            """

    /// Views and materialized views, defined by their full `CREATE [MATERIALIZED] VIEW` statement.
    static func views(_ rows: PGRows) throws(PostgresError) -> [NamedDefinition] {
        var views: [NamedDefinition] = []
        for row in rows.rows {
            let name = "\(SQLName.quote(row[0]!)).\(SQLName.quote(row[1]!))"
            let kind = row[2] == "m" ? "MATERIALIZED VIEW" : "VIEW"
            let options = row[3].map { $0.isEmpty ? "" : " WITH (\($0))" } ?? ""
            var query = row[4]!.trimmingCharacters(in: .whitespacesAndNewlines)
            if query.hasSuffix(";") { query.removeLast() }
            views.append(NamedDefinition(
                name: name, definition: "CREATE \(kind) \(name)\(options) AS\n\(query)", details: try decode([String].self, row[5] ?? "[]")))
        }
        return views
    }

    static let functionsSQL = """
            SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind,
                pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), pg_get_functiondef(p.oid)
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE p.prokind IN ('f', 'p') AND \(schemaFilter) AND \(notInExtension("pg_proc", "p.oid"))
            """

    /// Functions and procedures (not aggregates or window functions, which `pg_get_functiondef` cannot show).
    static func functions(_ rows: PGRows) -> [NamedDefinition] {
        return rows.rows.map { row in
            NamedDefinition(
                name: "\(SQLName.quote(row[0]!)).\(SQLName.quote(row[1]!))(\(row[2]!))",
                definition: row[6]!.trimmingCharacters(in: .whitespacesAndNewlines),
                details: [row[3] == "p" ? "procedure" : "function", row[4] ?? "", row[5] ?? ""])
        }
    }

    static let triggersSQL = """
            SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid)
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND NOT c.relispartition AND \(schemaFilter) AND \(notInExtension("pg_class", "c.oid"))
            """

    /// User triggers; internal ones (foreign keys) and those on partitions (a partitioned table's trigger is cloned onto them) are left out.
    static func triggers(_ rows: PGRows) -> [NamedDefinition] {
        return rows.rows.map { row in
            NamedDefinition(name: tableChildName(row[0]!, row[1]!, row[2]!), definition: row[3]!, details: [row[0]!, row[1]!, row[2]!])
        }
    }

    static let extensionsSQL = """
            SELECT e.extname, e.extversion, n.nspname
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE \(schemaFilter)
            """

    /// Extensions installed in the schemas looked at (so `plpgsql`, in `pg_catalog`, is not one), name → version.
    static func extensions(_ rows: PGRows) -> [NamedDefinition] {
        return rows.rows.map { row in NamedDefinition(name: SQLName.quote(row[0]!), definition: row[1]!, details: [row[2]!]) }
    }

    // A role oid of 0 is PUBLIC.
    static let policiesSQL = """
            SELECT n.nspname, c.relname, p.polname, p.polcmd, p.polpermissive,
                (SELECT json_agg(CASE WHEN r = 0 THEN NULL ELSE pg_get_userbyid(r) END) FROM unnest(p.polroles) r),
                pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
            FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT c.relispartition AND \(schemaFilter) AND \(notInExtension("pg_class", "c.oid"))
            """

    /// Row-level security policies, defined by the `CREATE POLICY` statement that makes them.
    static func policies(_ rows: PGRows) throws(PostgresError) -> [NamedDefinition] {
        var policies: [NamedDefinition] = []
        for row in rows.rows {
            let roles = try decode([String?].self, row[5] ?? "[]").map { $0.map(SQLName.quote) ?? "PUBLIC" }.sorted()
            let commands = ["r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"]
            var definition = "CREATE POLICY \(SQLName.quote(row[2]!)) ON \(SQLName.quote(row[0]!)).\(SQLName.quote(row[1]!))"
            definition += " AS \(row[4] == "t" ? "PERMISSIVE" : "RESTRICTIVE") FOR \(commands[row[3] ?? "*"] ?? "ALL")"
            definition += " TO \(roles.isEmpty ? "PUBLIC" : roles.joined(separator: ", "))"
            if let using = row[6] { definition += " USING (\(using))" }
            if let check = row[7] { definition += " WITH CHECK (\(check))" }
            policies.append(NamedDefinition(name: tableChildName(row[0]!, row[1]!, row[2]!), definition: definition, details: [row[0]!, row[1]!, row[2]!]))
        }
        return policies
    }

    static let enumsSQL = """
            SELECT n.nspname, t.typname, (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE t.typtype = 'e' AND \(schemaFilter) AND \(notInExtension("pg_type", "t.oid"))
            """

    /// Enum types, defined as `ENUM ('a', 'b')` with the labels in sort order also in `details`.
    static func enums(_ rows: PGRows) throws(PostgresError) -> [NamedDefinition] {
        var enums: [NamedDefinition] = []
        for row in rows.rows {
            let labels = try decode([String].self, row[2] ?? "[]")
            enums.append(NamedDefinition(
                name: "\(SQLName.quote(row[0]!)).\(SQLName.quote(row[1]!))", definition: SQLText.enumDefinition(labels), details: labels))
        }
        return enums
    }

    /// `schema.table.name`, each part quoted as needed: how triggers and policies are named.
    static func tableChildName(_ schema: String, _ table: String, _ name: String) -> String {
        "\(SQLName.quote(schema)).\(SQLName.quote(table)).\(SQLName.quote(name))"
    }

    /// A `text[]` literal for a query parameter.
    static func textArray(_ values: [String]) -> String {
        let elements = values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        return "{" + elements.joined(separator: ",") + "}"
    }

    /// Decodes the JSON a catalog query built with `json_agg`.
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws(PostgresError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw PostgresError(.postgresQueryFailed, "Unexpected catalog value \(text): \(error)")
        }
    }
}

/// SQL text helpers shared by the introspector and the DDL.
enum SQLText {
    /// A string literal, quotes doubled (`standard_conforming_strings` is on since Postgres 9.1).
    static func literal(_ value: String) -> String { "'" + value.replacingOccurrences(of: "'", with: "''") + "'" }

    /// `ENUM ('a', 'b')`.
    static func enumDefinition(_ labels: [String]) -> String { "ENUM (" + labels.map(literal).joined(separator: ", ") + ")" }
}

extension [NamedDefinition] {
    func sortedByName() -> [NamedDefinition] { sorted { $0.name < $1.name } }
}
