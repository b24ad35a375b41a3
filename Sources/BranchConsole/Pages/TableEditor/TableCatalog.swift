import Foundation

/// The tables of a branch and their columns, read from pg_catalog through `runSQL`.
struct TableCatalog: Sendable {
    struct Column: Sendable, Equatable {
        var name: String
        /// `format_type` of the column: safe to write after `::`.
        var type: String
        var notNull: Bool
        /// Has a default, is an identity or generated column: may be left out of an insert.
        var hasDefault: Bool
        var generated: Bool
        /// Position in the primary key (0-based), nil when not part of it.
        var keyPosition: Int?
        /// The column a single-column foreign key on this column points at.
        var references: Reference? = nil
        /// An enum column's labels, in their order (the editor offers them as a list).
        var enumLabels: [String] = []
    }

    /// `schema.table.column` a foreign key points at.
    struct Reference: Sendable, Equatable {
        var schema: String
        var table: String
        var column: String
        /// `schema.table`, as URLs carry it.
        var tableID: String { schema + "." + table }
    }

    struct Table: Sendable, Equatable {
        var schema: String
        var name: String
        var columns: [Column]
        var estimatedRows: Int

        /// `schema.name`, as URLs carry it.
        var id: String { schema + "." + name }
        var sql: String { SQLQuoting.qualified(schema: schema, name: name) }
        /// The primary key's columns in key order; empty when the table has none.
        var key: [Column] {
            columns.filter { $0.keyPosition != nil }.sorted { $0.keyPosition! < $1.keyPosition! }
        }
        func column(_ name: String) -> Column? { columns.first { $0.name == name } }
    }

    static let query = """
        SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
          (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '')::text, (a.attgenerated <> '')::text,
          (SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)::text,
          greatest(c.reltuples, 0)::bigint::text, fk.nspname, fk.relname, fk.attname,
          (SELECT array_to_json(array_agg(e.enumlabel ORDER BY e.enumsortorder))::text FROM pg_enum e WHERE e.enumtypid = a.atttypid)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN LATERAL (
          SELECT rn.nspname, rc.relname, ra.attname
          FROM pg_constraint con
          JOIN pg_class rc ON rc.oid = con.confrelid
          JOIN pg_namespace rn ON rn.oid = rc.relnamespace
          JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[1]
          WHERE con.conrelid = c.oid AND con.contype = 'f' AND cardinality(con.conkey) = 1 AND con.conkey[1] = a.attnum
          ORDER BY con.conname LIMIT 1
        ) fk ON true
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
        ORDER BY n.nspname = 'public' DESC, n.nspname, c.relname, a.attnum
        """

    /// Groups the query's rows into tables, in order.
    static func tables(_ rows: [[String?]]) -> [Table] {
        var tables: [Table] = []
        for row in rows where row.count >= 9 {
            guard let schema = row[0], let name = row[1], let column = row[2], let type = row[3] else { continue }
            var parsed = Column(
                name: column, type: type, notNull: row[4] == "true", hasDefault: row[5] == "true", generated: row[6] == "true",
                keyPosition: row[7].flatMap(Int.init))
            if row.count >= 12, let schema = row[9], let table = row[10], let target = row[11] {
                parsed.references = Reference(schema: schema, table: table, column: target)
            }
            if row.count >= 13, let labels = row[12], let decoded = try? JSONDecoder().decode([String].self, from: Data(labels.utf8)) {
                parsed.enumLabels = decoded
            }
            if tables.last?.schema == schema, tables.last?.name == name {
                tables[tables.count - 1].columns.append(parsed)
            } else {
                tables.append(Table(schema: schema, name: name, columns: [parsed], estimatedRows: row[8].flatMap(Int.init) ?? 0))
            }
        }
        return tables
    }
}
