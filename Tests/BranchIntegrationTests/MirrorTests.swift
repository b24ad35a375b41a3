import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `branch project import --mirror`: main follows a Postgres started by the test by logical
/// replication, stays read-only, and its branches are writable copies that follow nothing.
@Suite("Mirror: main follows a Postgres outside Branch", .serialized)
struct MirrorTests {
    static func fingerprint(_ table: String) -> String {
        "select count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '') from \(table) t"
    }

    /// The same rows on both sides within `seconds` (a missing table counts as not yet).
    static func converges(_ env: TestEnvironment, _ main: String, _ source: ExternalPostgres, _ table: String, within seconds: Double = 40) async throws -> Bool {
        try await RuntimeTests.eventually(seconds) {
            let there = try await source.scalar(fingerprint(table))
            let here = try? await env.psql(main, fingerprint(table))
            return here == there
        }
    }

    @Test("main follows inserts, updates, deletes and schema changes; it is read-only, a branch of it is writable; deleting it drops the slot")
    func follows() async throws {
        try await ExternalPostgres.with { source in
            try await source.execute("""
                create table public.items (id bigint primary key, name text not null, price numeric(10, 2));
                insert into public.items select i, 'item ' || i, i * 1.5 from generate_series(1, 500) i;
                """)
            try await TestEnvironment.with { env in
                let run = try await env.cli("project", "import", "shop", "--from", source.url(), "--mirror", "--json")
                #expect(run.succeeded, "mirror import failed: \(run.stderr)")
                let report = try JSONDecoder.api.decode(Components.Schemas.ImportReport.self, from: Data(run.output.utf8))
                #expect(report.mirror == "branch_shop")
                let main = try await env.cli("url", "--project", "shop").output
                #expect(try await env.psql(main, "select count(*) from public.items") == "500")

                // Rows: inserted, updated, deleted on the source.
                try await source.execute("insert into public.items values (501, 'new', 1); update public.items set name = 'renamed' where id = 1; delete from public.items where id = 2")
                #expect(try await Self.converges(env, main, source, "public.items"), "rows did not arrive")

                // Schema: a column added (and used at once), then a new table.
                try await source.execute("alter table public.items add column stock int not null default 7; insert into public.items values (502, 'stocked', 2, 3)")
                #expect(try await Self.converges(env, main, source, "public.items"), "the new column did not arrive")
                try await source.execute("create table public.tags (id int primary key, label text); insert into public.tags values (1, 'a'), (2, 'b')")
                #expect(try await Self.converges(env, main, source, "public.tags"), "the new table did not arrive")
                let events = try await env.cli("events", "--project", "shop")
                #expect(events.output.contains("new column public.items.stock"), "\(events.output)")

                // main is read-only for clients, rows and schema alike.
                for write in ["insert into public.items values (9000, 'no', 1)", "truncate public.items", "create table public.mine (id int)"] {
                    let refused = try await Command.run(TestEnvironment.psqlBinary, [main, "-X", "-c", write], check: false)
                    #expect(!refused.succeeded && refused.stderr.contains("read-only"), "\(write): \(refused.stderr)")
                }
                _ = try await env.json(SnapshotResult.self, "snapshot", "create", "main", "--name", "before", "--project", "shop")
                #expect(try await env.errorCode("restore", "before", "--in-place", "--project", "shop") == "mirror_read_only")

                // Its state: following, with a lag in bytes.
                // (A worker restarting after a schema change reads as not following for a moment.)
                var mirror: Components.Schemas.MirrorInfo?
                #expect(try await RuntimeTests.eventually(20) {
                    mirror = try await env.json(ProjectInfo.self, "project", "show", "shop").mirror
                    return mirror.map { $0.following && $0.lagBytes != nil && $0.problem == nil } ?? false
                }, "\(String(describing: mirror))")
                let status = try await env.json(StatusResponse.self, "status")
                #expect(status.mirrors?.first { $0.project == "shop" }?.mirror.lagBytes != nil, "branch status shows the mirror's lag")
                let metrics = try await Command.run("curl", ["-sS", "-H", "Authorization: Bearer \(env.token)", "\(env.url)/metrics"]).stdout
                #expect(metrics.contains("branch_mirror_lag_bytes{project=\"shop\"}") && metrics.contains("branch_mirror_following{project=\"shop\"} 1"))

                // A branch is writable and follows nothing; main goes on following.
                _ = try await env.json(BranchResult.self, "create", "feature", "--project", "shop")
                let feature = try await env.cli("url", "feature", "--project", "shop").output
                try await env.psql(feature, "insert into public.items values (9000, 'branch only', 1); alter table public.items add column note text")
                #expect(try await env.psql(feature, "select count(*) from pg_subscription") == "0")
                // So is a branch of main at an instant, once its WAL is replayed.
                _ = try await env.json(BranchResult.self, "create", "earlier", "--at", "1s-ago", "--project", "shop")
                let earlier = try await env.cli("url", "earlier", "--project", "shop").output
                try await env.psql(earlier, "insert into public.items values (9001, 'earlier only', 1)")
                #expect(try await env.psql(earlier, "select count(*) from pg_subscription") == "0")
                try await source.execute("insert into public.items values (503, 'after the branch', 1)")
                #expect(try await Self.converges(env, main, source, "public.items"))
                #expect(try await env.psql(feature, "select count(*) from public.items where id = 503") == "0")
                #expect(try await source.scalar("select count(*) from pg_replication_slots where active") == "1")

                // A snapshot against live: what changed on the source since (seed 004's "backup vs live").
                let diff = try await env.cli("diff", "before", "main", "--project", "shop", "--table", "public.items", "--json")
                #expect(diff.succeeded && diff.output.contains("after the branch"), "\(diff.stdout.prefix(2000)) \(diff.stderr)")
                #expect(try await source.scalar("select count(*) from pg_replication_slots where active") == "1", "the diff's scratch copy must not take the slot")

                // The source stops answering (its postmaster frozen): after three checks the
                // mirror_lag alert goes out, and an all-clear once it answers again.
                let postmaster = try #require(Files.read("\(source.dataDirectory)/postmaster.pid")?.split(separator: "\n").first.flatMap { Int32($0) })
                kill(postmaster, SIGSTOP)
                let alerted = try await RuntimeTests.eventually(60) {
                    try await env.cli("events", "--project", "shop").output.contains("Mirror shop is falling behind its source")
                }
                kill(postmaster, SIGCONT)
                #expect(alerted, "no mirror_lag alert while the source did not answer")
                #expect(try await RuntimeTests.eventually(30) {
                    try await env.cli("events", "--project", "shop").output.contains("Mirror shop caught up with its source")
                })

                // Deleting the mirror drops its slot and the publication Branch made.
                let deleted = try await env.cli("project", "delete", "shop", "--force")
                #expect(deleted.succeeded, "\(deleted.stderr)")
                #expect(try await source.scalar("select count(*) from pg_replication_slots") == "0")
                #expect(try await source.scalar("select count(*) from pg_publication") == "0")
            }
        }
    }

    @Test("a kill once main subscribed leaves no project, and no slot or publication on the source")
    func killAfterSubscribing() async throws {
        try await ExternalPostgres.with { source in
            try await source.execute("create table public.items (id int primary key); insert into public.items select generate_series(1, 100)")
            try await TestEnvironment.with { env in
                await env.stopService()
                try await env.startService(environment: ["BRANCH_CRASH_AT": "mirror.create.after-subscribe"])
                let interrupted = try await env.cli("project", "import", "shop", "--from", source.url(), "--mirror")
                #expect(!interrupted.succeeded)
                #expect(await env.waitForServiceExit().map(Int.init) == 137)
                #expect(try await source.scalar("select count(*) from pg_replication_slots") == "1", "the crash came after the slot was made")
                try await env.startService()
                #expect(try await env.json(ProjectList.self, "project", "list").projects.isEmpty)
                #expect(try await RuntimeTests.eventually(15) { try await source.scalar("select count(*) from pg_replication_slots") == "0" })
                #expect(try await source.scalar("select count(*) from pg_publication") == "0")
            }
        }
    }

    @Test("a user without REPLICATION, or a source without wal_level=logical, is refused with the fix and leaves nothing")
    func refusals() async throws {
        try await ExternalPostgres.with { source in
            try await source.execute("create table public.items (id int primary key); create role reader login bypassrls password 'reader-secret' in role pg_read_all_data")
            try await TestEnvironment.with { env in
                let refused = try await env.failure("project", "import", "shop", "--from", source.url(user: "reader", password: "reader-secret"), "--mirror", "--json")
                #expect(refused.output.contains("external_database_permission_denied") && refused.output.contains("REPLICATION"), "\(refused.output)")
                #expect(try await env.json(ProjectList.self, "project", "list").projects.isEmpty)
                #expect(try await source.scalar("select count(*) from pg_publication") == "0")
            }
        }
        try await ExternalPostgres.with(walLevel: "replica") { source in
            try await TestEnvironment.with { env in
                let refused = try await env.failure("project", "import", "shop", "--from", source.url(), "--mirror", "--json")
                #expect(refused.output.contains("wal_level"), "\(refused.output)")
                #expect(try await env.json(ProjectList.self, "project", "list").projects.isEmpty)
            }
        }
    }
}
