package import BranchPostgres
import BranchCore
import Foundation

/// Reads the schema cache of a branch's database from its catalog: one statement, which builds its
/// answer as JSON in Postgres and reads the schema version in the same snapshot as the catalog.
package enum SchemaLoader {
    /// The cheap check run before requests: text that changes whenever committed DDL changed the schema.
    ///
    /// Normally the counter that the bootstrap's event trigger bumps (`_branch.schema_version`). The
    /// table is read through `query_to_xml`, and only once the catalog says it exists and the
    /// current role may read it, so the statement never fails: in a database the bootstrap has not
    /// reached, or for a role without `USAGE` on `_branch` and `SELECT` on the table, the answer is
    /// a fingerprint of the catalog tables the cache is built from (`catalog:` and an md5 of their
    /// row counts and summed `xmin`s, which any DDL changes): slower, but still correct.
    package static let versionQuery = "select \(versionExpression) as version"

    /// The bootstrap's counter alone: one row read, what every request pays. Only for databases
    /// that have it (the data API installs it before serving a branch); gives the same text as
    /// `versionQuery` there, so caches loaded either way compare equal.
    package static let counterQuery = "select version::text as version from _branch.schema_version"

    /// Reads the relations, columns, keys and functions of `schemas` (`_branch` is never loaded).
    /// Foreign keys come from every user schema, so that views in `schemas` over tables elsewhere get
    /// theirs; only keys with both ends in `schemas` are kept.
    package static func load(connection: PGConnection, schemas: [String]) async throws(PostgresError) -> SchemaCache {
        let schemas = schemas.filter { $0 != internalSchema }
        let rows = try await connection.query(catalogQuery, ["{" + schemas.map(arrayElement).joined(separator: ",") + "}"])
        let catalog: Catalog
        do {
            catalog = try Catalog(rows)
        } catch {
            // XX000 (internal error): our bug, not a transient fault worth a client's retry.
            throw PostgresError(.postgresQueryFailed, "The schema cache could not be decoded: \(error)", sqlState: "XX000")
        }
        return catalog.cache()
    }

    /// The bootstrap's schema, never exposed and never loaded.
    static let internalSchema = "_branch"

    /// `"name"` as an element of a text array literal.
    private static func arrayElement(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// The version as one expression (see `versionQuery`); coalesce runs the fingerprint only when
    /// the counter is missing.
    private static let versionExpression = """
        coalesce(
          \(SchemaVersionCounter.guardedRead),
          'catalog:' || md5(concat_ws(',',
            (select count(*) || '.' || sum(xmin::text::bigint) from pg_catalog.pg_namespace),
            (select count(*) || '.' || sum(xmin::text::bigint) from pg_catalog.pg_class),
            (select count(*) || '.' || sum(xmin::text::bigint) from pg_catalog.pg_attribute),
            (select count(*) || '.' || sum(xmin::text::bigint) from pg_catalog.pg_attrdef),
            (select count(*) || '.' || sum(xmin::text::bigint) from pg_catalog.pg_constraint),
            (select count(*) || '.' || sum(xmin::text::bigint) from pg_catalog.pg_index),
            (select count(*) || '.' || sum(xmin::text::bigint) from pg_catalog.pg_rewrite),
            (select count(*) || '.' || sum(xmin::text::bigint) from pg_catalog.pg_proc),
            (select count(*) || '.' || sum(xmin::text::bigint) from pg_catalog.pg_type),
            (select count(*) || '.' || sum(xmin::text::bigint) from pg_catalog.pg_enum),
            (select count(*) || '.' || sum(xmin::text::bigint) from pg_catalog.pg_description))))
        """

    /// `$1` is the schemas to load (`text[]`). Columns: version, schema comments, relations with
    /// their columns, foreign keys, view columns' origins, functions; each JSON, null when empty.
    ///
    /// View columns' origins come from the view's rewrite rule: every target entry of its query
    /// tree names the table column it was read from (`resorigtbl`/`resorigcol`, 0 for an
    /// expression), which is how PostgREST finds the keys a view keeps. The pattern also matches
    /// the entries of subqueries, which the query tree writes before the view's own: they come in
    /// text order, so the last entry for a column is the view's.
    private static let catalogQuery = """
        with recursive
        domains(oid, base, not_null, def) as (
          select t.oid, t.typbasetype, t.typnotnull, pg_get_expr(t.typdefaultbin, 0)
          from pg_type t where t.typtype = 'd'
          union all
          select d.oid, b.typbasetype, d.not_null or b.typnotnull, coalesce(d.def, pg_get_expr(b.typdefaultbin, 0))
          from domains d join pg_type b on b.oid = d.base and b.typtype = 'd'
        ),
        domain_bases as (
          select d.* from domains d join pg_type b on b.oid = d.base and b.typtype <> 'd'
        ),
        relations as (
          select c.oid, n.nspname, c.relname, c.relkind
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where c.relkind in ('r', 'v', 'm', 'f', 'p') and not c.relispartition and n.nspname = any($1)
        )
        select
          \(versionExpression) as version,
          (select json_object_agg(n.nspname, d.description)
           from pg_namespace n join pg_description d on d.objoid = n.oid and d.classoid = 'pg_namespace'::regclass
           where n.nspname = any($1)) as schema_comments,
          (select json_agg(json_build_object(
            'schema', r.nspname, 'name', r.relname, 'kind', r.relkind,
            'comment', obj_description(r.oid, 'pg_class'),
            'insertable', r.relkind in ('r', 'p') or (r.relkind in ('v', 'f') and pg_relation_is_updatable(r.oid, true) & 8 = 8),
            'updatable', r.relkind in ('r', 'p') or (r.relkind in ('v', 'f') and pg_relation_is_updatable(r.oid, true) & 4 = 4),
            'deletable', r.relkind in ('r', 'p') or (r.relkind in ('v', 'f') and pg_relation_is_updatable(r.oid, true) & 16 = 16),
            'primaryKey', coalesce((
              select json_agg(a.attname order by k.ord)
              from pg_constraint con
              cross join unnest(con.conkey) with ordinality k(attnum, ord)
              join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum
              where con.conrelid = r.oid and con.contype = 'p'), '[]'),
            'columns', coalesce((
              select json_agg(json_build_object(
                'name', a.attname,
                'type', format_type(a.atttypid, a.atttypmod),
                'udt', bt.typname,
                'nullable', not (a.attnotnull or coalesce(d.not_null, false)),
                'default', case when a.attidentity = '' and a.attgenerated = '' then coalesce(pg_get_expr(ad.adbin, ad.adrelid), d.def) end,
                'identity', a.attidentity <> '',
                'generated', a.attgenerated <> '',
                'comment', col_description(r.oid, a.attnum),
                'enum', coalesce((select json_agg(e.enumlabel order by e.enumsortorder) from pg_enum e where e.enumtypid = bt.oid), '[]')
              ) order by a.attnum)
              from pg_attribute a
              left join domain_bases d on d.oid = a.atttypid
              join pg_type bt on bt.oid = coalesce(d.base, a.atttypid)
              left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
              where a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped), '[]')
          ) order by r.nspname, r.relname) from relations r) as relations,
          (select json_agg(json_build_object(
            'name', con.conname,
            'schema', n.nspname, 'table', c.relname,
            'columns', (select json_agg(a.attname order by k.ord) from unnest(con.conkey) with ordinality k(attnum, ord)
                        join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum),
            'referencedSchema', rn.nspname, 'referencedTable', rc.relname,
            'referencedColumns', (select json_agg(a.attname order by k.ord) from unnest(con.confkey) with ordinality k(attnum, ord)
                        join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum),
            'oneToOne', exists (
              select from pg_index i
              where i.indrelid = con.conrelid and i.indisunique and i.indpred is null and i.indexprs is null
                and (select array_agg(x order by x) from unnest(i.indkey::int2[]) with ordinality u(x, ord) where u.ord <= i.indnkeyatts)
                  = (select array_agg(x order by x) from unnest(con.conkey) x))
          ) order by n.nspname, c.relname, con.conname)
          from pg_constraint con
          join pg_class c on c.oid = con.conrelid join pg_namespace n on n.oid = c.relnamespace
          join pg_class rc on rc.oid = con.confrelid join pg_namespace rn on rn.oid = rc.relnamespace
          where con.contype = 'f' and con.conparentid = 0
            and n.nspname not in ('pg_catalog', 'information_schema', '_branch')
            and rn.nspname not in ('pg_catalog', 'information_schema', '_branch')) as foreign_keys,
          (select json_agg(json_build_object(
            'schema', vn.nspname, 'view', v.relname, 'column', va.attname,
            'originSchema', orn.nspname, 'origin', orc.relname, 'originColumn', ora.attname
          ) order by vn.nspname, v.relname, m.position)
          from pg_class v
          join pg_namespace vn on vn.oid = v.relnamespace
          join pg_rewrite rw on rw.ev_class = v.oid and rw.rulename = '_RETURN'
          cross join lateral regexp_matches(rw.ev_action::text,
            ':resno (\\d+) :resname (?:\\\\.|[^\\\\ ])+ :ressortgroupref \\d+ :resorigtbl (\\d+) :resorigcol (\\d+)', 'g')
            with ordinality m(entry, position)
          join pg_attribute va on va.attrelid = v.oid and va.attnum = m.entry[1]::int
          left join pg_class orc on orc.oid = m.entry[2]::oid
          left join pg_namespace orn on orn.oid = orc.relnamespace
          left join pg_attribute ora on ora.attrelid = orc.oid and ora.attnum = m.entry[3]::int
          where v.relkind in ('v', 'm') and vn.nspname not in ('pg_catalog', 'information_schema', '_branch')) as view_columns,
          (select json_agg(json_build_object(
            'schema', n.nspname, 'name', p.proname,
            'arguments', coalesce((
              select json_agg(json_build_object(
                'name', coalesce(x.name, ''), 'type', format_type(x.type, null),
                'hasDefault', x.input > p.pronargs - p.pronargdefaults, 'variadic', coalesce(x.mode = 'v', false)
              ) order by x.input)
              from (
                select u.*, row_number() over (order by u.ord) as input
                from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]), p.proargmodes, p.proargnames)
                  with ordinality u(type, mode, name, ord)
                where coalesce(u.mode, 'i') in ('i', 'b', 'v')
              ) x), '[]'),
            'returnType', format_type(p.prorettype, null),
            'returnKind', case
              when p.prorettype = 'void'::regtype then 'void'
              when p.prorettype = 'record'::regtype or coalesce(p.proargmodes && '{o,b,t}'::"char"[], false) then 'record'
              when rel.relkind in ('r', 'v', 'm', 'f', 'p') then 'relation'
              else 'scalar' end,
            'relationSchema', reln.nspname, 'relationName', rel.relname,
            'returnsSet', p.proretset,
            'volatility', p.provolatile,
            'comment', obj_description(p.oid, 'pg_proc')
          ) order by n.nspname, p.proname, p.oid)
          from pg_proc p
          join pg_namespace n on n.oid = p.pronamespace
          join pg_type rt on rt.oid = p.prorettype
          left join pg_class rel on rel.oid = rt.typrelid
          left join pg_namespace reln on reln.oid = rel.relnamespace
          where p.prokind = 'f' and n.nspname = any($1)
            and p.prorettype not in ('trigger'::regtype, 'event_trigger'::regtype)) as functions
        """
}

/// The catalog query's answer, decoded; `cache()` turns it into the schema cache.
private struct Catalog {
    struct RelationRow: Decodable {
        var schema, name, kind: String
        var comment: String?
        var insertable, updatable, deletable: Bool
        var primaryKey: [String]
        var columns: [ColumnRow]
    }

    struct ColumnRow: Decodable {
        var name, type, udt: String
        var nullable: Bool
        var `default`: String?
        var identity, generated: Bool
        var comment: String?
        var `enum`: [String]
    }

    struct ForeignKeyRow: Decodable {
        var name, schema, table: String
        var columns: [String]
        var referencedSchema, referencedTable: String
        var referencedColumns: [String]
        var oneToOne: Bool
    }

    /// A target entry of a view's query tree; no origin for an expression.
    struct ViewColumnRow: Decodable {
        var schema, view, column: String
        var originSchema, origin, originColumn: String?
    }

    struct FunctionRow: Decodable {
        struct ArgumentRow: Decodable {
            var name, type: String
            var hasDefault, variadic: Bool
        }

        var schema, name: String
        var arguments: [ArgumentRow]
        var returnType, returnKind: String
        var relationSchema, relationName: String?
        var returnsSet: Bool
        var volatility: String
        var comment: String?
    }

    var version: String
    var schemaComments: [String: String]
    var relations: [RelationRow]
    var foreignKeys: [ForeignKeyRow]
    var viewColumns: [ViewColumnRow]
    var functions: [FunctionRow]

    init(_ rows: PGRows) throws {
        func decode<T: Decodable>(_ column: String, as type: T.Type) throws -> T? {
            guard rows.count == 1, let text = rows.value(0, column) else { return nil }
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        }
        version = rows.count == 1 ? rows.value(0, "version") ?? "" : ""
        schemaComments = try decode("schema_comments", as: [String: String].self) ?? [:]
        relations = try decode("relations", as: [RelationRow].self) ?? []
        foreignKeys = try decode("foreign_keys", as: [ForeignKeyRow].self) ?? []
        viewColumns = try decode("view_columns", as: [ViewColumnRow].self) ?? []
        functions = try decode("functions", as: [FunctionRow].self) ?? []
    }

    func cache() -> SchemaCache {
        var relationsByName: [QualifiedName: Relation] = [:]
        for row in relations {
            let name = QualifiedName(row.schema, row.name)
            relationsByName[name] = Relation(
                name: name, kind: Self.kind(row.kind), comment: row.comment,
                columns: row.columns.map {
                    Column(
                        name: $0.name, type: $0.type, udtName: $0.udt, nullable: $0.nullable, defaultExpression: $0.default,
                        isIdentity: $0.identity, isGenerated: $0.generated, comment: $0.comment, enumValues: $0.enum)
                },
                primaryKey: row.primaryKey, insertable: row.insertable, updatable: row.updatable, deletable: row.deletable)
        }
        let keys = ViewKeys(viewColumns).foreignKeys(tableKeys).filter {
            relationsByName[$0.table] != nil && relationsByName[$0.referencedTable] != nil
        }
        var functionsByName: [QualifiedName: [Function]] = [:]
        for row in functions {
            guard let function = function(row, loaded: relationsByName) else { continue }
            functionsByName[function.name, default: []].append(function)
        }
        var cache = SchemaCache(version: version, relations: relationsByName, foreignKeys: keys, functions: functionsByName)
        cache.schemaComments = schemaComments
        return cache
    }

    private var tableKeys: [ForeignKey] {
        foreignKeys.map { row in
            var key = ForeignKey(
                constraintName: row.name, table: QualifiedName(row.schema, row.table), columns: row.columns,
                referencedTable: QualifiedName(row.referencedSchema, row.referencedTable), referencedColumns: row.referencedColumns)
            key.isOneToOne = row.oneToOne
            return key
        }
    }

    private static func kind(_ relkind: String) -> Relation.Kind {
        switch relkind {
        case "v": .view
        case "m": .materializedView
        case "f": .foreignTable
        case "p": .partitionedTable
        default: .table
        }
    }

    /// Types PostgREST passes a request body to as is, when a function's only argument has no name.
    private static let rawBodyTypes: Set<String> = ["bytea", "json", "jsonb", "text", "xml"]

    /// The function, or nil when `/rpc` cannot call it: more than one unnamed argument, or one that
    /// is not of a type a raw body can fill (PostgREST's rule).
    private func function(_ row: FunctionRow, loaded relations: [QualifiedName: Relation]) -> Function? {
        let unnamed = row.arguments.filter { $0.name.isEmpty }
        guard unnamed.isEmpty || (unnamed.count == 1 && Self.rawBodyTypes.contains(unnamed[0].type)) else { return nil }
        let returns: Function.Returns
        switch row.returnKind {
        case "void": returns = .void
        case "record": returns = .record
        case "relation":
            // A row type of a relation outside the loaded schemas: its columns are known only from the result.
            if let schema = row.relationSchema, let name = row.relationName, relations[QualifiedName(schema, name)] != nil {
                returns = .relation(QualifiedName(schema, name))
            } else {
                returns = .record
            }
        default: returns = .scalar(type: row.returnType)
        }
        let volatility: Function.Volatility = switch row.volatility {
        case "i": .immutable
        case "s": .stable
        default: .volatile
        }
        return Function(
            name: QualifiedName(row.schema, row.name),
            arguments: row.arguments.map { Function.Argument(name: $0.name, type: $0.type, hasDefault: $0.hasDefault, isVariadic: $0.variadic) },
            returns: returns, returnsSet: row.returnsSet, volatility: volatility, comment: row.comment)
    }
}

/// The foreign keys views inherit: a view column read straight from a table column (through any
/// chain of views) stands for it, so a table's key whose columns a view keeps is the view's key
/// too, on either end, as in PostgREST's view relationship detection.
private struct ViewKeys {
    /// A relation's column.
    struct ColumnRef: Hashable {
        var relation: QualifiedName
        var column: String
    }

    /// A view over a table: for each table column it reads, its own columns that read it, in order.
    struct ViewOver {
        var view: QualifiedName
        var columns: [String: [String]]
    }

    /// By table, the views that read its columns (in name order).
    private var views: [QualifiedName: [ViewOver]] = [:]

    init(_ rows: [Catalog.ViewColumnRow]) {
        var origins: [ColumnRef: ColumnRef] = [:]
        var viewColumns: [QualifiedName: [String]] = [:]
        // In text order: a later entry for the same column (the view's own) replaces a subquery's.
        for row in rows {
            let view = QualifiedName(row.schema, row.view)
            let column = ColumnRef(relation: view, column: row.column)
            if let schema = row.originSchema, let origin = row.origin, let originColumn = row.originColumn {
                origins[column] = ColumnRef(relation: QualifiedName(schema, origin), column: originColumn)
            } else {
                origins[column] = nil
            }
            if !viewColumns[view, default: []].contains(row.column) { viewColumns[view, default: []].append(row.column) }
        }
        /// The table column a view column reads in the end, following views over views (bounded:
        /// definitions cannot be cyclic, but a bad catalog read must not hang us).
        func base(_ start: ColumnRef) -> ColumnRef {
            var current = start
            for _ in 0..<32 {
                guard let next = origins[current] else { break }
                current = next
            }
            return current
        }
        for (view, columns) in viewColumns.sorted(by: { $0.key < $1.key }) {
            var byTable: [QualifiedName: [String: [String]]] = [:]
            for column in columns {
                let table = base(ColumnRef(relation: view, column: column))
                guard table.relation != view else { continue }
                byTable[table.relation, default: [:]][table.column, default: []].append(column)
            }
            for (table, columns) in byTable {
                views[table, default: []].append(ViewOver(view: view, columns: columns))
            }
        }
    }

    /// Every (relation, columns) that stands for `columns` of `table`: the table itself, then each
    /// view keeping all of them (the view column of the same name when there is one, else the first).
    private func standIns(for table: QualifiedName, columns: [String]) -> [(relation: QualifiedName, columns: [String])] {
        var result = [(relation: table, columns: columns)]
        for over in views[table] ?? [] {
            let mapped = columns.compactMap { column in
                over.columns[column].flatMap { kept in kept.contains(column) ? column : kept.first }
            }
            if mapped.count == columns.count { result.append((over.view, mapped)) }
        }
        return result
    }

    /// The tables' keys followed by those their views inherit (without duplicates, in a stable order).
    func foreignKeys(_ tableKeys: [ForeignKey]) -> [ForeignKey] {
        var seen = Set<ForeignKey>()
        var result: [ForeignKey] = []
        func add(_ key: ForeignKey) {
            if seen.insert(key).inserted { result.append(key) }
        }
        tableKeys.forEach(add)
        for key in tableKeys {
            for from in standIns(for: key.table, columns: key.columns) {
                for to in standIns(for: key.referencedTable, columns: key.referencedColumns) {
                    var inherited = ForeignKey(
                        constraintName: key.constraintName, table: from.relation, columns: from.columns,
                        referencedTable: to.relation, referencedColumns: to.columns)
                    inherited.isOneToOne = key.isOneToOne
                    add(inherited)
                }
            }
        }
        return result
    }
}
