import BranchPostgres
import Foundation
import Testing

@testable import BranchDiff

/// A branch server's schema snapshot is kept until its next DDL: found again by the stamp read in
/// the diff's own reading snapshot (server start, search path, the DDL counter the data API's event
/// triggers bump), on a real Postgres.
@Suite("Schema snapshots kept until the next DDL", .serialized, .enabled(if: ThrowAwayPostgres.canRun), ThrowAwayPostgres.Scope())
struct SchemaSnapshotCacheTests {
    /// The counter as the data API's bootstrap installs it (DataAPIBootstrap's schema version part).
    static let counter = """
        create schema _branch;
        create table _branch.schema_version (version bigint not null);
        insert into _branch.schema_version values (0);
        create function _branch.bump_schema_version() returns event_trigger language plpgsql as $$
        begin update _branch.schema_version set version = version + 1; end $$;
        create event trigger cache_test_bump on ddl_command_end execute function _branch.bump_schema_version();
        """

    static func database(_ name: String, counter: Bool) async throws -> ThrowAwayPostgres {
        let pg = try #require(ThrowAwayPostgres.current)
        try await withConnection(pg.connection()) { admin in
            try await admin.execute("drop database if exists \(name)")
            try await admin.execute("create database \(name)")
        }
        try await withConnection(pg.connection(database: name)) { connection in
            try await connection.execute("create table first (id int primary key)" + (counter ? ";\n" + Self.counter : ""))
        }
        return pg
    }

    /// The tables a diff of `database` would see, through `cache` as `server`.
    static func tables(_ cache: SchemaSnapshotCache, _ pg: ThrowAwayPostgres, _ database: String, server: String = "a") async throws -> [String] {
        try await withConnection(pg.connection(database: database)) { connection in
            let prepared = try await RowDiffer.prepare(connection)
            let snapshot = try await cache.snapshot(connection, server: server, stamp: prepared.schemaStamp, schemas: ["public"])
            try await connection.execute("ROLLBACK")
            return snapshot.tables.map(\.name)
        }
    }

    @Test("kept while the counter stands, read again once a DDL bumped it; each server its own")
    func keptUntilTheNextDDL() async throws {
        let pg = try await Self.database("cache_counted", counter: true)
        let cache = SchemaSnapshotCache()
        #expect(try await Self.tables(cache, pg, "cache_counted") == ["first"])
        #expect(cache.count == 1)

        // DDL that bumps no counter (event triggers do not fire in replica mode) shows the snapshot
        // came from the cache: the table is not in it.
        try await withConnection(pg.connection(database: "cache_counted")) { connection in
            try await connection.execute("set session_replication_role = replica; create table hidden (id int)")
        }
        #expect(try await Self.tables(cache, pg, "cache_counted") == ["first"])
        #expect(cache.count == 1)
        // Another server (another branch, or the same after a restart) never shares an entry.
        #expect(try await Self.tables(cache, pg, "cache_counted", server: "b") == ["first", "hidden"])

        // An ordinary DDL bumps the counter: the next diff reads the catalogs again.
        try await withConnection(pg.connection(database: "cache_counted")) { try await $0.execute("create table second (id int)") }
        #expect(try await Self.tables(cache, pg, "cache_counted") == ["first", "hidden", "second"])
        #expect(cache.count == 3)

        // The stamp names the server's start, so a restore (which restarts it) never matches.
        try await withConnection(pg.connection(database: "cache_counted")) { connection in
            let stamp = try await RowDiffer.prepare(connection).schemaStamp
            let started = try await connection.query("select pg_postmaster_start_time()::text").scalar
            #expect(stamp?.hasPrefix(try #require(started)) == true)
        }
    }

    @Test("a database without the counter has no stamp and is read every time")
    func noCounterNoCache() async throws {
        let pg = try await Self.database("cache_uncounted", counter: false)
        let cache = SchemaSnapshotCache()
        #expect(try await Self.tables(cache, pg, "cache_uncounted") == ["first"])
        try await withConnection(pg.connection(database: "cache_uncounted")) { try await $0.execute("create table second (id int)") }
        #expect(try await Self.tables(cache, pg, "cache_uncounted") == ["first", "second"])
        #expect(cache.count == 0)
    }

    @Test("the least recently used snapshot goes past the capacity")
    func leastRecentlyUsedGoes() async throws {
        let pg = try await Self.database("cache_capacity", counter: true)
        let cache = SchemaSnapshotCache(capacity: 2)
        for server in ["a", "b", "a", "c"] { _ = try await Self.tables(cache, pg, "cache_capacity", server: server) }
        #expect(cache.count == 2)
        // "b" went (used before the second "a"): it is read again, and "c" is still kept.
        try await withConnection(pg.connection(database: "cache_capacity")) { connection in
            try await connection.execute("set session_replication_role = replica; create table hidden (id int)")
        }
        #expect(try await Self.tables(cache, pg, "cache_capacity", server: "b") == ["first", "hidden"])
        #expect(try await Self.tables(cache, pg, "cache_capacity", server: "c") == ["first"])
    }
}
