import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

@Suite("Three-way merge", .serialized)
struct MergeTests {
    static let setUp = """
        create table users(id serial primary key, name text not null, email text);
        create table orders(id serial primary key, user_id int not null references users(id), total numeric(10,2));
        insert into users(name, email) select 'user ' || i, 'u' || i || '@example.com' from generate_series(1, 5000) i;
        insert into orders(user_id, total) select 1 + i % 5000, i from generate_series(1, 5000) i;
        create table tags(label text);
        insert into tags values ('red'), ('red'), ('blue');
        analyze;
        """

    @Test("a merge replays the source's schema and row changes since its base, keeps the target's own changes, and can be undone")
    func nonConflicting() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            let main = try await env.linkedProject()
            try await env.psql(main, Self.setUp)
            _ = try await env.json(BranchResult.self, "create", "feat")
            let feat = try await env.cli("url", "feat").output
            try await env.psql(feat, """
                insert into users(name, email) values ('new one', 'new@example.com');
                insert into orders(user_id, total) values ((select id from users where name = 'new one'), 9.99);
                update users set email = null where id = 10;
                delete from orders where id = 20;
                alter table users add column plan text not null default 'free';
                update users set plan = 'pro' where id = 11;
                create table audit(id int primary key, note text);
                insert into audit values (1, 'merged'), (2, '');
                insert into tags values ('green');
                delete from tags where ctid = (select min(ctid) from tags where label = 'red');
                """)
            // The target's own change since the base, to a row the source did not touch.
            try await env.psql(main, "update users set name = 'main only' where id = 2")

            let plan = try await env.json(MergeResult.self, "merge", "feat", "--dry-run")
            #expect(plan.target == "main" && plan.dryRun && !plan.applied && plan.conflicts.isEmpty)
            #expect(plan.schemaStatements.contains { $0.contains("ADD COLUMN") && $0.contains("plan") })
            #expect(plan.schemaStatements.contains { $0.contains("CREATE TABLE") && $0.contains("audit") })
            let users = try #require(plan.tables.first { $0.table == "public.users" })
            #expect(users.inserts == 1 && users.updates == 2 && users.deletes == 0)
            // A dry run changes nothing.
            #expect(try await env.psql(main, "select count(*) from users") == "5000")

            let merged = try await env.json(MergeResult.self, "merge", "feat")
            #expect(merged.applied)
            let undo = try #require(merged.undoSnapshot)
            #expect(try await env.psql(main, "select count(*) from users") == "5001")
            #expect(try await env.psql(main, "select coalesce(email, 'NULL') from users where id = 10") == "NULL")
            #expect(try await env.psql(main, "select plan from users where id = 11") == "pro")
            #expect(try await env.psql(main, "select plan from users where id = 12") == "free")
            #expect(try await env.psql(main, "select name from users where id = 2") == "main only")
            #expect(try await env.psql(main, "select count(*) from orders where id = 20") == "0")
            #expect(try await env.psql(main, "select total from orders o join users u on u.id = o.user_id where u.name = 'new one'") == "9.99")
            #expect(try await env.psql(main, "select string_agg(note, '|' order by id) from audit") == "merged|")
            #expect(try await env.psql(main, "select string_agg(label, ',' order by label) from tags") == "blue,green,red")
            // Sequences moved past the merged ids: the app's next insert does not collide.
            try await env.psql(main, "insert into users(name) values ('after merge')")

            // After the merge the two branches agree on every shared row.
            let after = try await env.diff("main", "feat", "--summary")
            #expect(after.end?.rowsChanged == 1, "only the target's own change to user 2 remains")

            // Undo: the target's state before the merge.
            _ = try await env.json(BranchResult.self, "restore", undo, "--in-place")
            let restored = try await env.cli("url", "main").output
            #expect(try await env.psql(restored, "select count(*) from users") == "5000")
            #expect(try await env.psql(restored, "select name from users where id = 2") == "main only")
            #expect(try await env.psql(restored, "select count(*) from information_schema.tables where table_name = 'audit'") == "0")
        }
    }

    @Test("a past state of a branch merges as it was then: a snapshot of it, or BRANCH@INSTANT, against the branch's base")
    func pastSource() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            let main = try await env.linkedProject()
            try await env.psql(main, Self.setUp)
            #expect(try await env.cli("snapshot", "create", "main", "--name", "old-main").succeeded)
            _ = try await env.json(BranchResult.self, "create", "feat")
            let feat = try await env.cli("url", "feat").output
            try await env.psql(feat, "update users set name = 'first' where id = 1")
            #expect(try await env.cli("snapshot", "create", "feat", "--name", "feat-then").succeeded)
            // An instant between the two changes, each in its own second.
            try await Task.sleep(for: .milliseconds(1100))
            let instant = ISO8601DateFormatter().string(from: Date())
            try await Task.sleep(for: .milliseconds(1100))
            try await env.psql(feat, "update users set name = 'second' where id = 1; insert into users(id, name) values (9001, 'later')")

            // A snapshot of feat: its changes then, not since; the default target is feat's parent.
            let plan = try await env.json(MergeResult.self, "merge", "feat-then", "--dry-run")
            let users = try #require(plan.tables.first { $0.table == "public.users" })
            #expect(plan.source == "feat-then" && plan.target == "main" && users.updates == 1 && users.inserts == 0, "\(plan)")
            let merged = try await env.json(MergeResult.self, "merge", "feat-then")
            #expect(merged.applied)
            #expect(try await env.psql(main, "select name from users where id = 1") == "first")
            #expect(try await env.psql(main, "select count(*) from users where id = 9001") == "0")
            _ = try await env.json(BranchResult.self, "restore", try #require(merged.undoSnapshot), "--in-place")
            let restored = try await env.cli("url", "main").output
            #expect(try await env.psql(restored, "select name from users where id = 1") == "user 1")

            // feat at the instant: the same state, read by replaying its WAL.
            let atInstant = try await env.json(MergeResult.self, "merge", "feat@\(instant)", "--into", "main")
            #expect(atInstant.applied && atInstant.source == "feat@\(instant)")
            #expect(try await env.psql(restored, "select name from users where id = 1") == "first")
            #expect(try await env.psql(restored, "select count(*) from users where id = 9001") == "0")
            #expect(try await env.subvolumes("work").isEmpty, "the throw-away servers are gone")

            // A snapshot of a branch without a base has nothing to merge against; names that are nothing are not found.
            #expect(try await env.errorCode("merge", "old-main", "--into", "feat") == "merge_no_base")
            #expect(try await env.errorCode("merge", "nothing-here") == "branch_not_found")
        }
    }

    @Test("rows changed on both sides are conflicts with all three values, settled by --prefer or a resolution file")
    func conflicts() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            let main = try await env.linkedProject()
            try await env.psql(main, Self.setUp)
            _ = try await env.json(BranchResult.self, "create", "feat")
            let feat = try await env.cli("url", "feat").output
            try await env.psql(feat, """
                update users set name = 'from feat', email = 'feat1@example.com' where id = 1;
                delete from orders where id = 3;
                update users set email = 'same@example.com' where id = 4;
                update users set name = 'feat only' where id = 5;
                """)
            try await env.psql(main, """
                update users set name = 'from main', email = 'main1@example.com' where id = 1;
                update orders set total = 1000 where id = 3;
                update users set email = 'same@example.com' where id = 4;
                """)

            // Unresolved: nothing applied, exit code 2, the conflicts listed.
            let refused = try await env.cli("merge", "feat")
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("2 conflicts left unresolved"))
            #expect(refused.stdout.contains("changed on both"))
            #expect(try await env.psql(main, "select name from users where id = 5") == "user 5")

            let plan = try await env.json(MergeResult.self, "merge", "feat", "--dry-run")
            #expect(plan.conflicts.count == 2)
            let both = try #require(plan.conflicts.first { $0.table == "public.users" })
            #expect(both.kind == "changed on both" && both.key.additionalProperties == ["id": "1"])
            #expect(
                both.base?.additionalProperties["name"] == "user 1" && both.source?.additionalProperties["name"] == "from feat"
                    && both.target?.additionalProperties["name"] == "from main")
            let deleted = try #require(plan.conflicts.first { $0.table == "public.orders" })
            #expect(deleted.kind == "deleted in source, changed in target" && deleted.source == nil && deleted.target?.additionalProperties["total"] == "1000.00")
            // The same change on both sides is no conflict.
            #expect(!plan.conflicts.contains { $0.key.additionalProperties == ["id": "4"] })

            // A resolution file: the source wins user 1, the target keeps order 3.
            let file = "\(env.root)/resolutions.json"
            try Files.writeAtomically(#"""
                [{"table": "public.users", "key": {"id": "1"}, "take": "source"},
                 {"table": "public.orders", "key": {"id": "3"}, "take": "target"}]
                """#, to: file)
            let merged = try await env.json(MergeResult.self, "merge", "feat", "--resolutions", file)
            #expect(merged.applied && merged.conflicts.allSatisfy { $0.resolution != nil })
            #expect(try await env.psql(main, "select name from users where id = 1") == "from feat")
            #expect(try await env.psql(main, "select total from orders where id = 3") == "1000.00")
            #expect(try await env.psql(main, "select name from users where id = 5") == "feat only")

            // --prefer target on a fresh conflict.
            _ = try await env.json(BranchResult.self, "restore", try #require(merged.undoSnapshot), "--in-place")
            let preferTarget = try await env.json(MergeResult.self, "merge", "feat", "--prefer", "target")
            #expect(preferTarget.applied)
            let restored = try await env.cli("url", "main").output
            #expect(try await env.psql(restored, "select name from users where id = 1") == "from main")
            #expect(try await env.psql(restored, "select count(*) from orders where id = 3") == "1")
            #expect(try await env.psql(restored, "select name from users where id = 5") == "feat only")

            // Cells settled one by one: ours (the target's row), its email from theirs, its name typed by hand.
            _ = try await env.json(BranchResult.self, "restore", try #require(preferTarget.undoSnapshot), "--in-place")
            try Files.writeAtomically(#"""
                [{"table": "public.users", "key": {"id": "1"}, "take": "target", "cells": {"email": "source"}, "values": {"name": "merged by hand"}},
                 {"table": "public.orders", "key": {"id": "3"}, "take": "target"}]
                """#, to: file)
            let cells = try await env.json(MergeResult.self, "merge", "feat", "--resolutions", file)
            #expect(cells.applied)
            let picked = try await env.cli("url", "main").output
            #expect(try await env.psql(picked, "select name || ' ' || email from users where id = 1") == "merged by hand feat1@example.com")
            #expect(try await env.psql(picked, "select total from orders where id = 3") == "1000.00")
            // A key column cannot be picked, nor a cell of a row its side deleted; nothing is applied.
            _ = try await env.json(BranchResult.self, "restore", try #require(cells.undoSnapshot), "--in-place")
            for resolution in [
                #"{"table": "public.users", "key": {"id": "1"}, "take": "target", "values": {"id": "9"}}"#,
                #"{"table": "public.orders", "key": {"id": "3"}, "take": "source", "values": {"total": "5"}}"#,
            ] {
                try Files.writeAtomically("[\(resolution)]", to: file)
                #expect(try await env.errorCode("merge", "feat", "--prefer", "target", "--resolutions", file) == "invalid_request")
            }
            let untouched = try await env.cli("url", "main").output
            #expect(try await env.psql(untouched, "select name from users where id = 1") == "from main")

            let bad = try await env.failure("merge", "feat", "--prefer", "mine")
            #expect(bad.stderr.contains("source or target"))
            #expect(try await env.errorCode("merge", "main") == "merge_no_target")
        }
    }

    @Test("destructive schema changes need --allow-destructive; a failing merge leaves the target untouched")
    func destructive() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            let main = try await env.linkedProject()
            try await env.psql(main, Self.setUp)
            _ = try await env.json(BranchResult.self, "create", "feat")
            let feat = try await env.cli("url", "feat").output
            try await env.psql(feat, "alter table users drop column email; update users set name = 'x' where id = 1")

            #expect(try await env.errorCode("merge", "feat") == "merge_destructive")
            #expect(try await env.psql(main, "select count(*) from information_schema.columns where table_name = 'users' and column_name = 'email'") == "1")

            // A row change that the target's constraints reject rolls the whole merge back.
            _ = try await env.json(BranchResult.self, "create", "bad")
            let bad = try await env.cli("url", "bad").output
            try await env.psql(bad, "update users set name = 'bad' where id = 7; insert into orders(user_id, total) values (4999, 1)")
            try await env.psql(main, "delete from orders where user_id = 4999; delete from users where id = 4999")
            #expect(try await env.errorCode("merge", "bad") == "postgres_query_failed")
            #expect(try await env.psql(main, "select name from users where id = 7") == "user 7")

            let merged = try await env.json(MergeResult.self, "merge", "feat", "--allow-destructive")
            #expect(merged.applied && merged.schemaChanges.contains { $0.classification == "breaking" })
            #expect(try await env.psql(main, "select count(*) from information_schema.columns where table_name = 'users' and column_name = 'email'") == "0")
            #expect(try await env.psql(main, "select name from users where id = 1") == "x")
        }
    }

    @Test("deletes on both sides agree, tables created on both are matched by key, a second merge is a no-op, stopped branches are refused")
    func edges() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            let main = try await env.linkedProject()
            try await env.psql(main, Self.setUp)
            _ = try await env.json(BranchResult.self, "create", "feat")
            let feat = try await env.cli("url", "feat").output
            try await env.psql(feat, "delete from orders where id = 50; create table notes(id int primary key, t text); insert into notes values (1, 'a'), (2, 'b')")
            try await env.psql(main, "delete from orders where id = 50; create table notes(id int primary key, t text); insert into notes values (1, 'a'), (2, 'c')")

            let plan = try await env.json(MergeResult.self, "merge", "feat", "--dry-run")
            #expect(plan.conflicts.count == 1)
            let conflict = try #require(plan.conflicts.first)
            #expect(conflict.table == "public.notes" && conflict.kind == "added on both" && conflict.key.additionalProperties == ["id": "2"])
            #expect(conflict.source?.additionalProperties["t"] == "b" && conflict.target?.additionalProperties["t"] == "c")

            let merged = try await env.json(MergeResult.self, "merge", "feat", "--prefer", "source")
            #expect(merged.applied)
            #expect(try await env.psql(main, "select string_agg(t, ',' order by id) from notes") == "a,b")

            // Everything is already there: nothing is written, no snapshot is taken.
            let again = try await env.json(MergeResult.self, "merge", "feat")
            #expect(!again.applied && again.undoSnapshot == nil && again.conflicts.isEmpty)
            #expect(try await env.cli("merge", "feat").stdout.contains("Nothing to merge"))

            _ = try await env.json(BranchResult.self, "stop", "main")
            #expect(try await env.errorCode("merge", "feat") == "branch_stopped")
        }
    }
}
