/// The database page's fixed, read-only catalog queries: `$1` is the schema shown. Nothing from
/// the request is ever spliced into the SQL.
enum CatalogQueries {
    static let schemas = """
        select nspname from pg_namespace
        where nspname not like 'pg\\_%' and nspname <> 'information_schema' order by nspname = 'public' desc, nspname
        """

    /// (table, kind, column, type, not null, default, primary key)
    static let columns = """
        select c.relname, case c.relkind when 'r' then 'table' when 'p' then 'partitioned table' when 'v' then 'view'
                 when 'm' then 'materialized view' when 'f' then 'foreign table' end,
               a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::text, pg_get_expr(d.adbin, d.adrelid),
               exists (select 1 from pg_index i where i.indrelid = c.oid and i.indisprimary and a.attnum = any (i.indkey))::text,
               obj_description(c.oid, 'pg_class')
        from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
        where n.nspname = $1 and c.relkind in ('r', 'p', 'v', 'm', 'f')
        order by c.relname, a.attnum
        """

    /// (table, column, referenced schema, referenced table, definition)
    static let foreignKeys = """
        select c.relname, a.attname, fn.nspname, f.relname, pg_get_constraintdef(con.oid)
        from pg_constraint con
        join pg_class c on c.oid = con.conrelid
        join pg_namespace n on n.oid = c.relnamespace
        join pg_class f on f.oid = con.confrelid
        join pg_namespace fn on fn.oid = f.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum = con.conkey[1]
        where con.contype = 'f' and n.nspname = $1
        order by c.relname, con.conname
        """

    /// (table, index, definition, unique, primary)
    static let indexes = """
        select c.relname, i.relname, pg_get_indexdef(x.indexrelid), x.indisunique::text, x.indisprimary::text
        from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class c on c.oid = x.indrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = $1 order by c.relname, i.relname
        """

    /// (name, arguments, result, language, kind)
    static let functions = """
        select p.proname, pg_get_function_identity_arguments(p.oid), coalesce(pg_get_function_result(p.oid), ''), l.lanname,
               case p.prokind when 'f' then 'function' when 'p' then 'procedure' when 'a' then 'aggregate' when 'w' then 'window' end
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace join pg_language l on l.oid = p.prolang
        where n.nspname = $1 order by p.proname
        """

    /// (trigger, table, definition, enabled)
    static let triggers = """
        select t.tgname, c.relname, pg_get_triggerdef(t.oid), (t.tgenabled <> 'D')::text
        from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
        where not t.tgisinternal and n.nspname = $1 order by c.relname, t.tgname
        """

    /// (type, labels)
    static let enums = """
        select t.typname, string_agg(e.enumlabel, ', ' order by e.enumsortorder)
        from pg_type t join pg_enum e on e.enumtypid = t.oid join pg_namespace n on n.oid = t.typnamespace
        where n.nspname = $1 group by t.typname order by t.typname
        """

    /// (extension, version, schema)
    static let extensions = """
        select e.extname, e.extversion, n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace order by e.extname
        """

    /// (role, can log in, superuser, create db, create role, bypass RLS, member of)
    static let roles = """
        select r.rolname, r.rolcanlogin::text, r.rolsuper::text, r.rolcreatedb::text, r.rolcreaterole::text, r.rolbypassrls::text,
               coalesce((select string_agg(g.rolname, ', ' order by g.rolname) from pg_auth_members m join pg_roles g on g.oid = m.roleid
                         where m.member = r.oid), '')
        from pg_roles r where r.rolname !~ '^pg_' and r.rolname <> 'branch_reader' order by r.rolname
        """

    /// (table, grantee, privileges)
    static let grants = """
        select table_name, grantee, string_agg(privilege_type, ', ' order by privilege_type)
        from information_schema.role_table_grants where table_schema = $1 and grantee <> 'branch_reader'
        group by table_name, grantee order by table_name, grantee
        """
}
