extension PGConnection {
    /// Runs `pg_dump`'s plain output (a table's definition, say). Recent pg_dump brackets it in
    /// psql meta-commands (`\restrict …`), which libpq cannot run, so those lines go; the dump's
    /// own `set_config('search_path', '', false)` is undone after, for the session's next statements.
    package func executeDump(_ text: String) async throws(PostgresError) {
        let sql = text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("\\") }.joined(separator: "\n")
        try await execute(sql)
        try await execute("SET search_path TO DEFAULT")
    }
}
