import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import OpenAPIRuntime
import Testing

/// The lines of `branch diff … --json`, decoded.
struct DiffOutput {
    var lines: [DiffLine]

    init(_ text: String) throws {
        lines = try text.split(separator: "\n").map { try JSONDecoder.api.decode(DiffLine.self, from: Data($0.utf8)) }
    }

    var schema: [DiffSchemaChange] { lines.compactMap(\.schema) }
    var rows: [DiffRowChange] { lines.compactMap(\.row) }
    var tables: [DiffTableSummary] { lines.compactMap(\.table) }
    var end: DiffEnd? { lines.last?.end }

    func row(_ table: String, _ key: [String: String?]) -> DiffRowChange? {
        rows.first { $0.table == table && $0.key.additionalProperties == key }
    }

    func column(_ table: String, id: String, _ column: String) -> DiffColumnChange? {
        row(table, ["id": id])?.columns?.first { $0.column == column }
    }
}

extension TestEnvironment {
    func diff(_ arguments: String...) async throws -> DiffOutput {
        let result = try await cli(["diff"] + arguments + ["--json"])
        guard result.succeeded else { throw TestFailure("`branch diff \(arguments.joined(separator: " "))` failed: \(result.stderr)") }
        return try DiffOutput(result.stdout)
    }
}

@Suite("Row-level and schema diff", .serialized)
struct DiffTests {
    /// A table with every kind of value the issue names, large enough to be bisected.
    static let setUp = """
        create type mood as enum ('sad', 'ok', 'happy');
        create table items(
            id int primary key, name text, note text, data jsonb, tags text[], price numeric, at timestamptz,
            blob bytea, m mood, big text, gone int);
        insert into items
            select i, 'item ' || i, case when i % 2 = 0 then null else 'n' end, jsonb_build_object('a', jsonb_build_object('b', i), 'list', jsonb_build_array(1, 2)),
                   array['x', 'y'], 1.50, '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 second',
                   '\\x0102'::bytea, 'ok', case when i = 12 then repeat('x', 200000) else null end, i
            from generate_series(1, 20000) i;
        create table pairs(a int, b text, v int, primary key (a, b));
        insert into pairs values (1, 'x', 1), (1, 'y', 2), (2, 'x', 3);
        create table logs(msg text);
        insert into logs values ('a'), ('a'), ('a'), ('b');
        analyze;
        """

    static let changes = """
        update items set note = '' where id = 4;
        update items set data = jsonb_set(data, '{a,b}', '"changed"') || '{"new": true}' where id = 6;
        update items set tags = array['x', 'y', 'z'] where id = 7;
        update items set price = 1.500 where id = 8;
        update items set at = at + interval '1 microsecond' where id = 9;
        update items set blob = '\\x0103' where id = 10;
        update items set m = 'happy' where id = 11;
        update items set big = repeat('x', 199999) || 'y' where id = 12;
        delete from items where id = 13;
        insert into items (id, name) values (30000, 'new');
        update items set name = 'same' where id = 14;
        update items set name = 'item 14' where id = 14;
        alter table items add column extra int default 0;
        alter table items drop column gone;
        update pairs set v = 20 where a = 1 and b = 'y';
        insert into pairs values (3, 'z', 4);
        delete from logs where ctid = (select min(ctid) from logs where msg = 'a');
        insert into logs values ('c'), ('c');
        create index items_name on items(name);
        """

    @Test("rows are matched by key and compared exactly: NULL vs '', jsonb, arrays, numeric, timestamptz, bytea, enums, TOAST, added and dropped columns")
    func exactRowDiff() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            let main = try await env.linkedProject()
            try await env.psql(main, Self.setUp)
            _ = try await env.json(BranchResult.self, "create", "feat")
            try await env.psql(try await env.cli("url", "feat").output, Self.changes)

            let diff = try await env.diff("main", "feat")
            let items = "public.items"
            // Schema: an added column is additive, a dropped one breaking; the new index is additive.
            let added = try #require(diff.schema.first { $0.objectType == "column" && $0.name.hasSuffix("items.extra") })
            #expect(added.change == "added" && added.classification == "additive")
            let dropped = try #require(diff.schema.first { $0.objectType == "column" && $0.name.hasSuffix("items.gone") })
            #expect(dropped.change == "removed" && dropped.classification == "breaking")
            #expect(diff.schema.contains { $0.objectType == "index" && $0.name.contains("items_name") && $0.classification == "additive" })

            // NULL and '' differ.
            let note = try #require(diff.column(items, id: "4", "note"))
            #expect(note.old == nil && note.new == "")
            // jsonb: the whole values and a JSON patch.
            let data = try #require(diff.column(items, id: "6", "data"))
            let patch = try #require(data.patch)
            #expect(patch.contains { $0.op == "replace" && $0.path == "/a/b" && $0.value?.value as? String == "changed" })
            #expect(patch.contains { $0.op == "add" && $0.path == "/new" })
            #expect(diff.column(items, id: "7", "tags")?.new == "{x,y,z}")
            // numeric keeps its scale: 1.50 and 1.500 are different values as stored.
            #expect(diff.column(items, id: "8", "price")?.new == "1.500")
            let at = try #require(diff.column(items, id: "9", "at"))
            #expect(at.new?.hasSuffix(".000001+00") == true)
            #expect(diff.column(items, id: "10", "blob")?.new == "\\x0103")
            #expect(diff.column(items, id: "11", "m")?.old == "ok")
            // A TOASTed value that differs in its last byte.
            let big = try #require(diff.column(items, id: "12", "big"))
            #expect(big.old?.count == 200_000 && big.new?.hasSuffix("xy") == true)
            #expect(diff.row(items, ["id": "13"])?.change == "removed")
            #expect(diff.row(items, ["id": "30000"])?.change == "added")
            // Changed and changed back: no difference.
            #expect(diff.row(items, ["id": "14"]) == nil)
            // Only the shared columns: the dropped and added columns never make a row differ.
            #expect(diff.rows.filter { $0.table == items }.count == 10)
            #expect(diff.rows.filter { $0.table == items }.allSatisfy { change in change.columns?.allSatisfy { $0.column != "extra" && $0.column != "gone" } ?? true })
            // Rows come in key order.
            let keys = diff.rows.filter { $0.table == items }.compactMap { $0.key.additionalProperties["id"] ?? nil }.compactMap(Int.init)
            #expect(keys == keys.sorted())

            // A composite key.
            #expect(diff.row("public.pairs", ["a": "1", "b": "y"])?.columns?.first?.new == "20")
            #expect(diff.row("public.pairs", ["a": "3", "b": "z"])?.change == "added")
            // Without a key: a multiset, duplicates counted.
            let logs = diff.rows.filter { $0.table == "public.logs" }
            #expect(logs.contains { $0.change == "removed" && $0.row?.additionalProperties["msg"] == "a" && $0.count == 1 })
            #expect(logs.contains { $0.change == "added" && $0.row?.additionalProperties["msg"] == "c" && $0.count == 2 })
            #expect(diff.tables.first { $0.table == "public.logs" }?.method == "multiset")
            #expect(diff.tables.first { $0.table == items }?.method == "primary key, changed pages")

            let end = try #require(diff.end)
            #expect(end.rowsChanged == 8 + 1 && end.rowsAdded == 1 + 1 + 2 && end.rowsRemoved == 1 + 1)
            #expect(end.nextCursor == nil)

            // The same sides the other way round mirror each other.
            let reverse = try await env.diff("feat", "main", "--summary")
            #expect(reverse.end?.rowsAdded == end.rowsRemoved && reverse.end?.rowsRemoved == end.rowsAdded)
            #expect(reverse.rows.isEmpty)

            // --table, --schema-only and the terminal rendering.
            let onlyPairs = try await env.diff("main", "feat", "--table", "pairs")
            #expect(Set(onlyPairs.tables.map(\.table)) == ["public.pairs"])
            #expect(try await env.diff("main", "feat", "--schema-only").rows.isEmpty)
            let text = try await env.cli("diff", "main", "feat")
            #expect(text.succeeded)
            #expect(text.stdout.contains("BREAKING"))
            #expect(text.stdout.contains("note: NULL → ''"))
            #expect(text.stdout.contains("public.items: 1 added, 1 removed, 8 changed"))
        }
    }

    @Test("snapshots, instants and pagination: cursors continue exactly where the limit stopped")
    func sidesAndPagination() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(id int primary key, v text); insert into t select i, 'v' from generate_series(1, 50000) i; analyze t")
            let snapshot = try await env.json(SnapshotResult.self, "snapshot", "create", "--name", "before")
            try await env.psql(main, "update t set v = 'w' where id % 997 = 0")
            try await Task.sleep(for: .seconds(1.1))
            let instant = ISO8601DateFormatter().string(from: Date())
            try await Task.sleep(for: .seconds(1.1))
            try await env.psql(main, "delete from t where id <= 3")
            let serversBefore = await env.serverProcesses().count

            // A snapshot against the live branch.
            let full = try await env.diff("before", "main")
            #expect(full.end?.rowsChanged == 50 && full.end?.rowsRemoved == 3)
            #expect(snapshot.snapshot.name == "before")
            // An instant between the update and the delete.
            let atInstant = try await env.diff("before", "main@\(instant)")
            #expect(atInstant.end?.rowsChanged == 50 && atInstant.end?.rowsRemoved == 0)
            // Only hashes crossed the wire for the unchanged segments: far less than the table.
            let bytes = try #require(full.end).bytesFromSecond
            #expect(bytes < 1_000_000, "read \(bytes) bytes from main")
            // The temporary servers for the snapshot and the instant are gone.
            #expect(await env.serverProcesses().count == serversBefore)

            // Pages of 7: together exactly the full diff, in order, each with a cursor until the last.
            var collected: [DiffRowChange] = []
            var cursor: String?
            var pages = 0
            repeat {
                var arguments = ["before", "main", "--limit", "7"]
                if let cursor { arguments += ["--cursor", cursor] }
                let page = try await env.diff(arguments)
                #expect(page.rows.count <= 7)
                collected += page.rows
                cursor = page.end?.nextCursor
                pages += 1
            } while cursor != nil && pages < 20
            #expect(collected == full.rows)
            #expect(pages == 8)

            // The counts and the first rows of the most changed table in one diff; the cursor
            // continues those rows as a diff of that table.
            let counted = try await env.diff("before", "main", "--summary", "--rows-of", "*", "--limit", "7")
            #expect(counted.end?.rowsChanged == 50 && counted.end?.rowsRemoved == 3 && counted.end?.rowsAdded == 0)
            // Every table is counted (auth's too, unchanged); the rows are those of public.t alone.
            #expect(counted.tables.count > 1 && counted.tables.contains { $0.table == "public.t" && $0.changed == 50 && $0.removed == 3 })
            #expect(counted.rows.allSatisfy { $0.table == "public.t" })
            #expect(counted.rows == Array(full.rows.prefix(7)))
            let rest = try await env.diff("before", "main", "--table", "t", "--limit", "100", "--cursor", try #require(counted.end?.nextCursor))
            #expect(counted.rows + rest.rows == full.rows)
            let named = try await env.diff("before", "main", "--summary", "--rows-of", "t", "--limit", "100")
            #expect(named.rows == full.rows && named.end?.nextCursor == nil)
            #expect(try await env.errorCode("diff", "before", "main", "--rows-of", "*") == "invalid_request")

            // Unknown sides and bad cursors are clear errors.
            #expect(try await env.errorCode("diff", "main", "nope") == "diff_side_not_found")
            #expect(try await env.errorCode("diff", "main", "before", "--cursor", "garbage") == "invalid_request")
        }
    }

    @Test("a transaction in flight when the branch was taken, committed later on the parent only, shows up although its pages are unchanged")
    func inFlightTransaction() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(id int primary key, v text); insert into t select i, 'v' from generate_series(1, 1000) i")
            // A session that inserts a row and keeps its transaction open across the branch's creation.
            let session = Process()
            session.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
            session.arguments = [main, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
            let input = Pipe()
            session.standardInput = input
            session.standardOutput = FileHandle.nullDevice
            try session.run()
            input.fileHandleForWriting.write(Data("BEGIN; INSERT INTO t VALUES (5000, 'in flight'); SELECT pg_sleep(0);\n".utf8))
            try await Task.sleep(for: .milliseconds(500))
            _ = try await env.json(BranchResult.self, "create", "feat")
            input.fileHandleForWriting.write(Data("COMMIT;\n".utf8))
            try input.fileHandleForWriting.close()
            session.waitUntilExit()
            #expect(session.terminationStatus == 0)
            #expect(try await env.psql(main, "select count(*) from t where id = 5000") == "1")
            #expect(try await env.psql(try await env.cli("url", "feat").output, "select count(*) from t where id = 5000") == "0")

            let diff = try await env.diff("feat", "main")
            #expect(diff.row("public.t", ["id": "5000"])?.change == "added")
            #expect(diff.end?.rowsAdded == 1 && diff.end?.rowsChanged == 0 && diff.end?.rowsRemoved == 0)
        }
    }

    @Test("pages a branch shares with its parent on disk, all-visible, are not even read; of the others only the tuples that differ")
    func sharedPagesSkipped() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(id int primary key, v text); insert into t select i, 'value ' || i from generate_series(1, 100000) i")
            try await env.psql(main, "vacuum (freeze, analyze) t")
            _ = try await env.json(BranchResult.self, "create", "feat")
            try await env.psql(try await env.cli("url", "feat").output, "update t set v = 'changed' where id = 50000")

            let diff = try await env.diff("main", "feat")
            #expect(diff.end?.rowsChanged == 1 && diff.column("public.t", id: "50000", "v")?.new == "changed")
            let table = try #require(diff.tables.first { $0.table == "public.t" })
            #expect(table.method == "primary key, changed pages")
            let read = try #require(table.pagesRead)
            let skipped = try #require(table.pagesSkipped)
            #expect(skipped > 10 * read, "read \(read) pages, skipped \(skipped)")
            // Of the rows on the pages read, only the changed one's versions are asked for: its
            // old version on both sides, its new one on the branch.
            let tuples = try #require(table.tuplesCompared)
            #expect(tuples >= 2 && tuples <= 4, "asked for \(tuples) tuples")
        }
    }

    @Test("a backup is a side too: received into a scratch server, compared, then removed")
    func backupSide() async throws {
        try await TestEnvironment.with(poolSize: "2G", backups: true) { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(id int primary key, v text); insert into t select i, md5(i::text) from generate_series(1, 10000) i")
            let backup = try #require(try await env.json(JobInfo.self, "backup", "create").backup)
            try await env.psql(main, "update t set v = 'new' where id in (5, 500, 5000); insert into t values (10001, 'x')")

            let diff = try await env.diff("backup:\(backup.id)", "main")
            #expect(diff.end?.rowsChanged == 3 && diff.end?.rowsAdded == 1 && diff.end?.rowsRemoved == 0)
            #expect(diff.column("public.t", id: "500", "v")?.new == "new")
            // The scratch copy of the backup is gone again.
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: "\(env.pool)/work")) ?? []).isEmpty)

            // Another project's backup is not a side of this project's diff.
            _ = try await env.json(ProjectCreated.self, "project", "create", "other")
            let theirs = try #require(try await env.json(JobInfo.self, "backup", "create", "--project", "other").backup)
            #expect(try await env.errorCode("diff", "backup:\(theirs.id)", "main") == "diff_side_not_found")
        }
    }

    @Test("the API answers within 100 ms while a diff of many changed rows streams")
    func responsiveDuringDiff() async throws {
        try await TestEnvironment.with(poolSize: "2G") { env in
            try await env.linkedProject()
            try await env.psql(try await env.cli("url", "main").output, """
                create table big(id int primary key, v int); insert into big select i, 0 from generate_series(1, 100000) i
                """)
            _ = try await env.json(BranchResult.self, "create", "changed")
            try await env.psql(try await env.cli("url", "changed").output, "update big set v = 1")

            // The diff runs while the API is asked, again and again, for the branches.
            let diff = Task { (try await env.cli("diff", "main", "changed", "--json"), ContinuousClock.now) }
            var latencies: [Double] = []
            let deadline = ContinuousClock.now + .seconds(60)
            while latencies.count < 40 && ContinuousClock.now < deadline {
                let timed = try await Command.run("curl", [
                    "-sS", "-o", "/dev/null", "-w", "%{time_total}", "-m", "30", "-H", "Authorization: Bearer \(env.token)",
                    env.url + "/api/v1/projects/app/branches",
                ])
                latencies.append((Double(timed.stdout) ?? 99) * 1000)
                try await Task.sleep(for: .milliseconds(100))
            }
            let sampled = ContinuousClock.now
            let (result, finished) = try await diff.value
            #expect(result.succeeded)
            #expect(finished > sampled, "the diff was still streaming while the API was asked")
            let output = try DiffOutput(result.stdout)
            #expect(output.end?.rowsChanged == 100_000)
            let sorted = latencies.sorted()
            let median = sorted[sorted.count / 2]
            #expect(median < 100, "median \(median) ms of \(sorted)")
            #expect(sorted.last! < 1000, "slowest \(sorted.last!) ms")
        }
    }
}

extension TestEnvironment {
    func diff(_ arguments: [String]) async throws -> DiffOutput {
        let result = try await cli(["diff"] + arguments + ["--json"])
        guard result.succeeded else { throw TestFailure("`branch diff \(arguments.joined(separator: " "))` failed: \(result.stderr)") }
        return try DiffOutput(result.stdout)
    }
}
