/// The counter the data API's bootstrap keeps in `_branch.schema_version`, bumped by event
/// triggers on every DDL command: what the REST schema cache and the diff's schema snapshots know
/// a schema by.
package enum SchemaVersionCounter {
    /// The counter as text, as one SQL expression; NULL where the table does not exist or the
    /// current role may not read it. It is read through `query_to_xml` only once the catalog says
    /// both, so the expression never fails the statement or its transaction.
    package static let guardedRead = """
        (select substring(query_to_xml('select version::text as v from _branch.schema_version limit 1', false, true, '')::text
                          from '<v>([^<]*)</v>')
         from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
         where n.nspname = '_branch' and c.relname = 'schema_version'
           and has_schema_privilege(n.oid, 'usage') and has_table_privilege(c.oid, 'select'))
        """
}
