import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

private typealias PushReport = Components.Schemas.PushReport

/// `branch push`: a table's rows from a branch or a snapshot to a Postgres outside Branch (a
/// cluster the test starts), matched by primary key, in one transaction.
@Suite("Push to an external Postgres", .serialized)
struct PushTests {
    /// The same 200 rows on both sides; each side has one column the other lacks.
    static func items(extra: String) -> String {
        """
        create table items(id int primary key, name text not null, qty int, note text, \(extra));
        insert into items (id, name, qty, note) select i, 'item ' || i, i * 10, case when i % 3 = 0 then null else 'n' || i end
            from generate_series(1, 200) i;
        """
    }

    static let filter = "id in (3, 4, 5, 201)"

    /// A checksum of the rows `condition` selects, over the columns both sides have.
    static func checksum(_ condition: String = "true") -> String {
        """
        select md5(coalesce(string_agg(format('%s|%s|%s|%s', id, name, qty, coalesce(note, '<null>')), ',' order by id), ''))
        from items where \(condition)
        """
    }

    @Test("rows changed, added and deleted on a branch land on the target exactly; the dry run shows them and writes nothing")
    func pushRowsFromBranch() async throws {
        try await TestEnvironment.with { env in
            try await ExternalPostgres.with { target in
                let main = try await env.linkedProject()
                try await env.psql(main, Self.items(extra: "only_here int default 1"))
                try await target.execute(Self.items(extra: "only_there text default 'kept'"))
                // Only the changed columns are written: an UPDATE that named `name` would fail.
                try await target.execute("""
                    create function refuse_name() returns trigger language plpgsql as $$ begin raise exception 'name was written'; end $$;
                    create trigger guard_name before update of name on items for each row execute function refuse_name();
                    """)
                _ = try await env.json(BranchResult.self, "create", "feat")
                let feat = try await env.cli("url", "feat").output
                try await env.psql(feat, """
                    update items set qty = qty + 1 where id in (3, 4);
                    update items set note = null where id = 4;
                    delete from items where id = 5;
                    insert into items (id, name, qty) values (201, 'new', 1);
                    update items set name = 'outside the filter' where id = 100;
                    """)
                let url = target.url()
                let before = try await target.scalar(Self.checksum())
                let outside = try await target.scalar(Self.checksum("not (\(Self.filter))"))

                // The dry run: the diff, nothing written.
                let dry = try await env.json(PushReport.self, "push", "items", "--rows", Self.filter, "--to", url, "--branch", "feat")
                #expect(!dry.applied)
                #expect((dry.added, dry.changed, dry.removed) == (1, 2, 1))
                #expect(dry.table == "public.items" && !dry.truncated)
                #expect(dry.columnsOnlyInSource == ["only_here"] && dry.columnsOnlyInTarget == ["only_there"])
                #expect(!dry.target.contains(target.password))
                let three = try #require(dry.rows.first { $0.kind == "changed" && $0.key.additionalProperties["id"] == "3" })
                #expect(three.changedColumns == ["qty"])
                #expect(three.old?.additionalProperties["qty"] == "30" && three.new?.additionalProperties["qty"] == "31")
                let four = try #require(dry.rows.first { $0.kind == "changed" && $0.key.additionalProperties["id"] == "4" })
                #expect(four.changedColumns == ["qty", "note"])
                #expect(four.new?.additionalProperties["note"] == .some(nil))
                #expect(dry.rows.contains { $0.kind == "added" && $0.key.additionalProperties["id"] == "201" && $0.new?.additionalProperties["name"] == "new" })
                #expect(dry.rows.contains { $0.kind == "removed" && $0.key.additionalProperties["id"] == "5" && $0.old?.additionalProperties["name"] == "item 5" })
                #expect(try await target.scalar(Self.checksum()) == before)

                // The terminal: the diff, and how to apply it.
                let text = try await env.cli("push", "items", "--rows", Self.filter, "--to", url, "--branch", "feat")
                #expect(text.succeeded, "\(text.stderr)")
                #expect(text.stdout.contains("1 added, 2 changed, 1 removed"))
                #expect(text.stdout.contains("qty: '30' → '31'"))
                #expect(text.stdout.split(separator: "\n").last?.contains("--apply") == true)
                #expect(!text.stdout.contains(target.password))

                // Applied: the filtered rows equal the branch's, every other row is untouched.
                let applied = try await env.json(
                    PushReport.self, "push", "items", "--rows", Self.filter, "--to", url, "--branch", "feat", "--apply")
                #expect(applied.applied && (applied.added, applied.changed, applied.removed) == (1, 2, 1))
                #expect(try await target.scalar(Self.checksum()) != before)
                #expect(try await target.scalar(Self.checksum("not (\(Self.filter))")) == outside)
                #expect(try await target.scalar(Self.checksum(Self.filter)) == (try await env.psql(feat, Self.checksum(Self.filter))))
                #expect(try await target.scalar("select only_there from items where id = 201") == "kept")
                #expect(try await target.scalar("select count(*) from items") == "200")
                // In the audit log, like every change.
                let audit = try await env.cli("audit", "--project", "app")
                #expect(audit.stdout.split(separator: "\n").contains { $0.contains("pushTable") && $0.contains("ok") })

                // Pushed again, nothing is left to do.
                let again = try await env.json(PushReport.self, "push", "items", "--rows", Self.filter, "--to", url, "--branch", "feat")
                #expect((again.added, again.changed, again.removed) == (0, 0, 0) && again.rows.isEmpty)

                // The whole table (default: the checked-out branch, main, which still has the old rows).
                try await target.execute("drop trigger guard_name on items")
                _ = try await env.json(PushReport.self, "push", "items", "--to", url, "--branch", "feat", "--apply")
                #expect(try await target.scalar(Self.checksum()) == (try await env.psql(feat, Self.checksum())))
                let back = try await env.json(PushReport.self, "push", "items", "--to", url)
                #expect(back.source == "branch main" && (back.added, back.changed, back.removed) == (1, 3, 1))

                // Many changes: counted in full, at most 50 rows of each kind shown.
                try await env.psql(main, "update items set qty = -qty")
                let many = try await env.json(PushReport.self, "push", "items", "--to", url)
                #expect(many.changed == 199 && many.added == 1 && many.truncated)
                #expect(many.rows.filter { $0.kind == "changed" }.count == 50)
            }
        }
    }

    @Test("push from a snapshot; no primary key, a failing apply, bad URLs and missing rights are clear errors that change nothing")
    func snapshotsAndErrors() async throws {
        try await TestEnvironment.with { env in
            try await ExternalPostgres.with { target in
                let main = try await env.linkedProject()
                try await env.psql(main, Self.items(extra: "extra int") + "create table logs(msg text); insert into logs values ('a');")
                try await target.execute(Self.items(extra: "extra int") + "create table logs(msg text);")
                try await env.psql(main, "update items set qty = 0 where id <= 10")
                _ = try await env.cli("snapshot", "create", "--name", "zeroed")
                try await env.psql(main, "update items set qty = -1 where id <= 10")
                let url = target.url()

                // From a snapshot: its rows, not main's current ones.
                let pushed = try await env.json(PushReport.self, "push", "items", "--snapshot", "zeroed", "--rows", "id <= 10", "--to", url, "--apply")
                #expect(pushed.applied && pushed.changed == 10 && pushed.source == "snapshot zeroed")
                #expect(try await target.scalar("select sum(qty) from items where id <= 10") == "0")
                #expect(try await target.scalar("select sum(qty) from items where id > 10") == (try await env.psql(main, "select sum(qty) from items where id > 10")))

                // The project's origin snapshot (from before the owner role had the project's name) is read as the owner too.
                let snapshots = try await env.json(Components.Schemas.SnapshotList.self, "snapshot", "list")
                let origin = try #require(snapshots.snapshots.first { $0.kind == "automatic" })
                #expect(try await env.errorCode("push", "items", "--snapshot", origin.id, "--to", url) == "table_not_found")

                // A failing apply (the target's CHECK refuses main's rows) rolls everything back.
                try await target.execute("alter table items add constraint qty_not_negative check (qty >= 0)")
                try await env.psql(main, "insert into items (id, name, qty) values (300, 'fine', 1); delete from items where id = 199")
                let before = try await target.scalar(Self.checksum())
                #expect(try await env.errorCode("push", "items", "--to", url, "--apply") == "push_failed")
                #expect(try await target.scalar(Self.checksum()) == before)
                let failure = try await env.failure("push", "items", "--to", url, "--apply")
                #expect(failure.stderr.contains("qty_not_negative"))

                // No primary key, unknown tables, a bad filter.
                #expect(try await env.errorCode("push", "logs", "--to", url) == "table_has_no_primary_key")
                #expect(try await env.errorCode("push", "nothing", "--to", url) == "table_not_found")
                try await env.psql(main, "create table only_here(id int primary key)")
                #expect(try await env.errorCode("push", "only_here", "--to", url) == "table_not_found")
                #expect(try await env.errorCode("push", "items", "--rows", "no_such_column = 1", "--to", url) == "invalid_request")
                #expect(try await env.errorCode("push", "items", "--rows", "true; drop table items", "--to", url) == "invalid_request")

                // Bad URLs and credentials.
                #expect(try await env.errorCode("push", "items", "--to", target.url(password: "wrong")) == "external_database_auth_failed")
                let closed = try TestEnvironment.freePort()
                #expect(try await env.errorCode("push", "items", "--to", target.url(port: closed)) == "external_database_unreachable")
                #expect(try await env.errorCode("push", "items", "--to", "postgres://postgres:x@%2Fvar%2Frun%2Fpostgresql/source") == "invalid_database_url")
                #expect(try await env.errorCode("push", "items", "--to", "mysql://u:p@127.0.0.1/source") == "invalid_database_url")

                // A user that may only read: the dry run works, the apply is refused before any write.
                try await target.execute("create role reader login password 'reader-pw'; grant select on items to reader")
                let reader = target.url(user: "reader", password: "reader-pw")
                let dry = try await env.json(PushReport.self, "push", "items", "--to", reader)
                #expect(dry.added == 1 && dry.removed == 1 && !dry.applied)
                #expect(try await env.errorCode("push", "items", "--to", reader, "--apply") == "external_database_permission_denied")
                #expect(try await target.scalar(Self.checksum()) == before)
            }
        }
    }
}
