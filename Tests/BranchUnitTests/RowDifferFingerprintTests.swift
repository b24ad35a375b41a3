import BranchPostgres
import Foundation
import Testing

@testable import BranchDiff

/// The diff's first pass: every small keyed table fingerprinted (row count, XOR of row hashes) in
/// one query per side, and those alike not compared further. What it calls unchanged must be what
/// the full comparison finds unchanged, on two real databases.
@Suite("Row differ: tables alike on both sides, told at once", .serialized, .enabled(if: ThrowAwayPostgres.canRun), ThrowAwayPostgres.Scope())
struct RowDifferFingerprintTests {
    static let setup = """
        create table same (id int primary key, v text);
        create table edited (id int primary key, v text);
        create table grown (id int primary key, v text);
        create table shrunk (id int primary key, v text);
        create table reordered (id int primary key, v text);
        create table emptied (a int, b text, primary key (a, b));
        create table empty (id int primary key);
        create table nulls (id int primary key, v text);
        create table "Odd name" (id int primary key, v jsonb);
        create table unkeyed (v text);
        insert into same select g, 'row ' || g from generate_series(1, 50) g;
        insert into edited select g, 'row ' || g from generate_series(1, 50) g;
        insert into grown select g, 'row ' || g from generate_series(1, 50) g;
        insert into shrunk select g, 'row ' || g from generate_series(1, 50) g;
        insert into emptied values (1, 'x');
        insert into nulls values (1, null);
        insert into "Odd name" values (1, '{"a": 1, "b": 2}');
        insert into unkeyed values ('x'), ('y');
        """

    static let left = setup + "\ninsert into reordered select g, 'row ' || g from generate_series(1, 50) g;"
    /// The second database: the same, but for one changed value, one row more, one fewer, the same
    /// rows written in another order, a composite-keyed table emptied, NULL made '', the same JSON
    /// written in another key order, and two equal rows added to the table without a key (whose
    /// hashes would cancel out).
    static let right = setup + """

        insert into reordered select g, 'row ' || g from generate_series(50, 1, -1) g;
        update edited set v = 'changed' where id = 7;
        insert into grown values (51, 'new');
        delete from shrunk where id = 3;
        delete from emptied;
        update nulls set v = '';
        update "Odd name" set v = '{"b": 2, "a": 1}';
        insert into unkeyed values ('z'), ('z');
        """

    @Test("unchanged names exactly the keyed tables the full comparison finds alike; sizes cover every table")
    func unchangedMatchesTheFullComparison() async throws {
        let pg = try #require(ThrowAwayPostgres.current)
        try await withConnection(pg.connection()) { admin in
            for name in ["fingerprint_left", "fingerprint_right"] {
                try await admin.execute("drop database if exists \(name)")
                try await admin.execute("create database \(name)")
            }
        }
        try await withConnection(pg.connection(database: "fingerprint_left")) { try await $0.execute(Self.left) }
        try await withConnection(pg.connection(database: "fingerprint_right")) { try await $0.execute(Self.right) }

        try await withConnection(pg.connection(database: "fingerprint_left")) { left in
            try await withConnection(pg.connection(database: "fingerprint_right")) { right in
                try await RowDiffer.prepare(left)
                try await RowDiffer.prepare(right)
                let before = try await SchemaIntrospector.snapshot(left, schemas: ["public"])
                let after = try await SchemaIntrospector.snapshot(right, schemas: ["public"])
                let comparisons = before.tables.map { TableComparison(from: $0, to: after.table($0.qualifiedName)!) }
                #expect(comparisons.count == 10)
                let differ = RowDiffer(first: left, second: right)

                let unchanged = try await differ.unchanged(comparisons)
                #expect(unchanged == ["public.same", "public.reordered", "public.empty", "public.\"Odd name\""])

                // The full comparison agrees, table by table.
                for comparison in comparisons {
                    let summary = try await differ.compare(comparison, emit: nil).summary
                    let alike = summary.added + summary.removed + summary.changed == 0
                    #expect(alike == unchanged.contains(comparison.table), "\(comparison.table)")
                }

                let sizes = try await differ.sizes(comparisons.map(\.table) + ["public.missing"])
                #expect(sizes["public.same"] == 8192)
                #expect(sizes["public.empty"] == 0)
                #expect(sizes["public.missing"] == 0)
                #expect(sizes.count == 11)
            }
        }
    }
}
