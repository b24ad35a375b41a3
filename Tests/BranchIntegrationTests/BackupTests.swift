import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

@Suite("Backups: encrypted, incremental, to a directory and S3, restored anywhere", .serialized)
struct BackupTests {
    static func count(_ env: TestEnvironment, _ branch: String, _ sql: String = "select count(*) from t") async throws -> String {
        try await env.psql(try await env.cli("url", branch).output, sql)
    }

    @Test("full then incremental to a directory; restore the chain; verify; tampering and a wrong key are refused, leaving nothing; a new key starts a new chain")
    func directoryTarget() async throws {
        try await TestEnvironment.with(poolSize: "2G", backups: true) { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(g int primary key, h text); insert into t select g, md5(g::text) from generate_series(1, 100000) g")
            let full = try await env.json(JobInfo.self, "backup", "create")
            let fullBackup = try #require(full.backup)
            #expect(full.status == "succeeded")
            #expect(fullBackup.kind == "full")
            #expect(fullBackup.storedBytes < fullBackup.rawBytes, "compressed")

            try await env.psql(main, "update t set h = 'changed' where g <= 1000")
            let incremental = try #require(try await env.json(JobInfo.self, "backup", "create").backup)
            #expect(incremental.kind == "incremental")
            #expect(incremental.parentID == fullBackup.id)
            #expect(incremental.rawBytes * 5 < fullBackup.rawBytes, "an incremental carries the change, not the database")

            // Nothing readable in the target: the data is encrypted.
            let data = try #require(FileManager.default.contents(atPath: "\(env.defaultBackupDirectory)/app/\(fullBackup.id)/data"))
            #expect(!String(decoding: data.prefix(1 << 20), as: UTF8.self).contains(String(repeating: "0", count: 8) + "changed"))
            #expect(data.range(of: Data("c4ca4238a0b923820dcc509a6f75849b".utf8)) == nil, "md5('1') must not appear in clear")

            // Restore the chain as a new branch.
            let restored = try await env.json(JobInfo.self, "backup", "restore", incremental.id, "--as", "restored")
            #expect(restored.branch?.name == "restored")
            #expect(try await Self.count(env, "restored", "select count(*) filter (where h = 'changed') from t") == "1000")

            let verified = try await env.json(JobInfo.self, "backup", "verify", incremental.id)
            let report = try #require(verified.verify)
            #expect(report.ok && report.chain == [fullBackup.id, incremental.id])
            #expect(report.rows >= 100_000)
            #expect((report.indexesChecked ?? 0) > 0)
            #expect(try await env.subvolumes("work").isEmpty)

            // Exported as SQL and as JSON Lines, read from a throw-away server gone afterwards; audited.
            let sql = try await env.cli("backup", "export", incremental.id)
            #expect(sql.succeeded && sql.stdout.contains("CREATE TABLE public.t ("))
            #expect(sql.stdout.components(separatedBy: "\tchanged\n").count - 1 == 1000, "the incremental's rows, not the full backup's")
            let lines = try await env.cli("backup", "export", incremental.id, "--format", "json", "--table", "t")
            #expect(lines.succeeded && lines.stdout.split(separator: "\n").count == 100_000)
            #expect(try await env.errorCode("backup", "export", incremental.id, "--table", "nope") == "table_not_found")
            #expect(try await env.errorCode("backup", "export", "nosuchbackup") == "backup_not_found")
            #expect(try await env.subvolumes("work").isEmpty, "the export's copy and server are gone")
            #expect(try await env.cli("audit", "--jsonl").stdout.split(separator: "\n").filter { $0.contains("\"exportBackup\"") }.count == 4)

            // Tampered: one byte flipped in the full backup's data.
            let path = "\(env.defaultBackupDirectory)/app/\(fullBackup.id)/data"
            var bytes = [UInt8](data)
            bytes[bytes.count / 2] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect(try await env.errorCode("backup", "restore", incremental.id, "--as", "tampered") == "backup_integrity_failed")
            // Truncated.
            try data.prefix(data.count - 1000).write(to: URL(fileURLWithPath: path))
            #expect(try await env.errorCode("backup", "verify", incremental.id) == "backup_integrity_failed")
            try data.write(to: URL(fileURLWithPath: path))
            #expect(try await !env.json(BranchList.self, "list").branches.contains { $0.name == "tampered" })
            #expect(try await env.subvolumes("work").isEmpty, "nothing half-restored")

            // A wrong key: the service restarts with another key.
            await env.stopService()
            try Files.writeAtomically(TestEnvironment.newBackupKey() + "\n", to: env.backupKeyFile, mode: 0o600)
            try await env.startService()
            #expect(try await env.errorCode("backup", "restore", incremental.id, "--as", "wrong") == "backup_wrong_key")
            #expect(try await env.subvolumes("projects/app/branches") == ["main", "restored"])

            // Each backup names its key's fingerprint; the list names the service's. After the key
            // change the next backup starts a new full chain, not an incremental the new key could
            // never restore.
            let listed = try await env.json(BackupList.self, "backup", "list")
            #expect(fullBackup.keyID?.count == 16 && incremental.keyID == fullBackup.keyID)
            #expect(listed.keyID?.count == 16 && listed.keyID != fullBackup.keyID)
            #expect(listed.backups.filter { $0.keyID == fullBackup.keyID }.count == 2)
            let fresh = try #require(try await env.json(JobInfo.self, "backup", "create").backup)
            #expect(fresh.kind == "full" && fresh.parentID == nil && fresh.keyID == listed.keyID)
            #expect(try await env.cli("backup", "show", fresh.id).output.contains(listed.keyID ?? "?"))
        }
    }

    @Test("a service killed during a backup or a restore leaves neither a half backup nor a half branch")
    func crashes() async throws {
        try await TestEnvironment.with(poolSize: "2G", backups: true) { env in
            try await env.linkedProject()
            try await env.psql(try await env.cli("url").output, "create table t as select generate_series(1, 50000) g")
            let good = try #require(try await env.json(JobInfo.self, "backup", "create").backup)

            await env.stopService()
            try await env.startService(environment: ["BRANCH_CRASH_AT": "backup.create.streaming"])
            _ = try await env.cli("backup", "create")
            _ = await env.waitForServiceExit()
            try await env.startService()
            let backups = try await env.json(BackupList.self, "backup", "list").backups
            #expect(backups.filter { $0.status == "complete" }.map(\.id) == [good.id])
            #expect(backups.contains { $0.status == "failed" && $0.error?.contains("stopped") == true })
            #expect(!(try await env.json(SnapshotList.self, "snapshot", "list").snapshots.contains { $0.kind == "backup" && $0.id != good.snapshotID }))

            await env.stopService()
            try await env.startService(environment: ["BRANCH_CRASH_AT": "backup.restore.after-receive"])
            _ = try await env.cli("backup", "restore", good.id, "--as", "restored")
            _ = await env.waitForServiceExit()
            try await env.startService()
            #expect(try await env.json(BranchList.self, "list").branches.map(\.name) == ["main"])
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: "\(env.pool)/work")) ?? []).isEmpty)
            // And it works once the service is whole again.
            _ = try await env.json(JobInfo.self, "backup", "restore", good.id, "--as", "restored")
            #expect(try await env.psql(try await env.cli("url", "restored").output, "select count(*) from t") == "50000")
        }
    }

    @Test("backups to S3 (moto), restored into a second, empty pool: the disaster-recovery path")
    func s3DisasterRecovery() async throws {
        try await MotoServer.with { s3 in
            let key = TestEnvironment.newBackupKey()
            let (backupID, expected) = try await TestEnvironment.with(poolSize: "2G", start: false) { source in
                try source.configureBackups(target: s3.targetSpec(), key: key, environment: s3.environment)
                try await source.startService()
                _ = try await source.json(ProjectCreated.self, "project", "create", "shop", "--memory", "256M")
                _ = try await source.cli("link", "shop")
                let main = try await source.cli("url", "main").output
                try await source.psql(main, "create table orders(id serial primary key, total numeric); insert into orders(total) select g * 1.5 from generate_series(1, 20000) g")
                _ = try await source.json(JobInfo.self, "backup", "create")
                try await source.psql(main, "insert into orders(total) values (42)")
                let last = try #require(try await source.json(JobInfo.self, "backup", "create").backup)
                #expect(last.kind == "incremental")
                let expected = try await source.psql(main, "select count(*) || ':' || sum(total) from orders")
                return (last.id, expected)
            }
            // The source machine is gone; a new pool with the same target and key.
            try await TestEnvironment.with(poolSize: "2G", start: false) { fresh in
                try fresh.configureBackups(target: s3.targetSpec(), key: key, environment: s3.environment)
                try await fresh.startService()
                #expect(try await fresh.json(ProjectList.self, "project", "list").projects.isEmpty)
                let remote = try await fresh.json(BackupList.self, "backup", "list", "--remote")
                #expect(remote.backups.count == 2)
                let job = try await fresh.json(JobInfo.self, "backup", "restore", backupID, "--as", "main")
                #expect(job.branch?.project == "shop")
                let project = try await fresh.json(ProjectInfo.self, "project", "show", "shop")
                #expect(project.memoryBytes == 256 << 20, "the project's settings came with it")
                // The app's pooled URL works with the original password.
                let url = try await fresh.cli("url", "--project", "shop").output
                #expect(try await fresh.psql(url, "select count(*) || ':' || sum(total) from orders") == expected)
                #expect(try await fresh.psql(url, "select current_user") == "shop")
            }
        }
    }

    @Test("scheduled backups prune by their rules and report to a webhook")
    func scheduleAndWebhook() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { receiver.stop() }
        // A chain of at most one incremental, so retention has whole chains to drop.
        try await TestEnvironment.with(poolSize: "2G", serveArguments: ["--backup-chain-length", "1"], backups: true) { env in
            try await env.linkedProject()
            try await env.psql(try await env.cli("url").output, "create table t as select generate_series(1, 1000) g")
            _ = try await env.json(ScheduleInfo.self, "schedule", "set", "backup", "--cron", "@every 3s", "--keep-last", "2",
                                   "--hourly", "0", "--daily", "0", "--weekly", "0", "--webhook", receiver.url)
            var backups: [BackupInfo] = []
            for _ in 0..<60 {
                try await Task.sleep(for: .seconds(1))
                backups = try await env.json(BackupList.self, "backup", "list").backups.filter { $0.status == "complete" }
                if receiver.received.count >= 5 { break }
            }
            let made = receiver.received.compactMap { line in
                line.range(of: "\"backup\":\"").map { String(line[$0.upperBound...].prefix { $0 != "\"" }) }
            }
            #expect(made.count >= 5)
            #expect(!backups.contains { $0.id == made.first }, "the oldest chain was pruned")
            #expect(receiver.received.count >= 4)
            let first = try #require(receiver.received.first)
            #expect(first.contains("\"event\":\"backup.succeeded\""))
            #expect(first.contains("\"project\":\"app\""))
            // Kept: the newest two and whatever they build on (their full backup).
            let ids = Set(backups.map(\.id))
            for backup in backups { if let parent = backup.parentID { #expect(ids.contains(parent)) } }
            #expect((2...3).contains(backups.count), "\(backups.count) kept")
            _ = try await env.json(ScheduleList.self, "schedule", "off", "backup")
        }
    }

    @Test("logical export as SQL and JSON Lines, and a single table restored from a snapshot")
    func exportAndTableRestore() async throws {
        try await TestEnvironment.with { env in
            let main = try await env.linkedProject()
            try await env.psql(main, "create table t(id int primary key, doc jsonb, note text); insert into t values (1, '{\"a\": [1, 2]}', 'x\\y'), (2, null, E'line\\nbreak')")
            try await env.psql(main, "create table other(id int)")
            // A viewer's query gives the service's reader role grants; an export leaves them out
            // (the role exists only inside Branch, so loading them elsewhere would fail).
            let viewed = try await env.cli("sql", "--read-only", "select count(*) from t")
            #expect(viewed.succeeded, "\(viewed.stderr)")
            let sql = try await env.cli("export", "--format", "sql")
            #expect(sql.stdout.contains("CREATE TABLE public.t"))
            #expect(!sql.stdout.contains("branch_reader"), "the reader role's grants must not be exported")
            #expect(sql.stdout.contains("GRANT ALL ON TABLE public.t TO anon;"), "the app's own grants stay")
            #expect(sql.stdout.contains("COPY public.t"))
            let json = try await env.cli("export", "--format", "json", "--table", "t")
            let lines = json.stdout.split(separator: "\n")
            #expect(lines.count == 2)
            let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
            #expect((first?["row"] as? [String: Any])?["note"] as? String == "x\\y")
            // export writes the dump itself to stdout, so it has no --json for its errors.
            #expect(try await env.failure("export", "--table", "nope").stderr.contains("'nope'"))

            _ = try await env.json(SnapshotResult.self, "snapshot", "create", "--name", "good")
            try await env.psql(main, "delete from t; insert into other values (7)")
            let restored = try await env.json(BranchResult.self, "restore", "good", "--table", "public.t")
            #expect(restored.replacedStateSnapshot?.kind == "pre-restore")
            #expect(try await env.psql(main, "select count(*) from t") == "2")
            #expect(try await env.psql(main, "select count(*) from other") == "1", "other tables untouched")
        }
    }
    @Test("a backup's and a restore's memory stay bounded whatever the database's size: the send stream is read at most a few pieces ahead of what is written out")
    func boundedMemory() async throws {
        try await TestEnvironment.with(poolSize: "3G", backups: true) { env in
            let main = try await env.linkedProject()
            // About 400 MB: btrfs send reads it far faster than it can be compressed and encrypted.
            try await env.psql(main, "create table t(id int primary key, v text); insert into t select i, repeat('x', 1200) || i from generate_series(1, 300000) i")
            let pid = try #require(env.servicePID)
            func kilobytes(_ field: String) -> Int {
                let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
                let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
                return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0
            }
            try "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8)  // resets VmHWM to the current RSS
            let before = kilobytes("VmRSS")
            let backup = try #require(try await env.json(JobInfo.self, "backup", "create").backup)
            #expect(backup.rawBytes > 350_000_000)
            let rise = kilobytes("VmHWM") - before
            #expect(rise < 128 * 1024, "the service grew by \(rise / 1024) MB during a backup of \(backup.rawBytes / 1_000_000) MB")

            // The way back: streamed into btrfs receive, flushed to disk as it goes (every 64 MiB).
            try "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .utf8)
            let beforeRestore = kilobytes("VmRSS")
            _ = try await env.json(JobInfo.self, "backup", "restore", backup.id, "--as", "restored")
            let restoreRise = kilobytes("VmHWM") - beforeRestore
            #expect(restoreRise < 128 * 1024, "the service grew by \(restoreRise / 1024) MB during a restore of \(backup.rawBytes / 1_000_000) MB")
            let restored = try await env.cli("url", "restored").output
            #expect(try await env.psql(restored, "select count(*), sum(length(v)) from t") == "300000|361688895")
        }
    }

}

/// A tiny HTTP server that records the bodies POSTed to it (the webhook's other end).
final class WebhookReceiver: @unchecked Sendable {
    let port: Int
    let pid: Int32
    let file: String

    var url: String { "http://127.0.0.1:\(port)/hook" }
    var received: [String] { (Files.read(file) ?? "").split(separator: "\n").map(String.init) }

    private init(port: Int, pid: Int32, file: String) {
        self.port = port
        self.pid = pid
        self.file = file
    }

    static func start() async throws -> WebhookReceiver {
        let port = try TestEnvironment.freePort()
        let directory = "/var/tmp/branch-tests/webhook-\(Identifiers.shortID())"
        try Files.ensureDirectory(directory)
        let file = "\(directory)/received"
        try Files.writeAtomically("", to: file)
        let script = """
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                    with open(sys.argv[2], 'a') as f: f.write(body.decode().replace('\\n', ' ') + '\\n')
                    self.send_response(200); self.end_headers()
                def log_message(self, *args): pass
            http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
            """
        try Files.writeAtomically(script, to: "\(directory)/server.py")
        var environment = Command.baseEnvironment
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? environment["PATH"]
        for name in ["HOME", "PYENV_ROOT"] { environment[name] = ProcessInfo.processInfo.environment[name] }
        let pid = try Command.launch("python3", ["\(directory)/server.py", String(port), file], environment: environment, logFile: "\(directory)/log")
        try await Task.sleep(for: .milliseconds(500))
        return WebhookReceiver(port: port, pid: pid, file: file)
    }

    func stop() {
        kill(pid, SIGKILL)
        try? FileManager.default.removeItem(atPath: (file as NSString).deletingLastPathComponent)
    }
}

#if canImport(Glibc)
import Glibc
#endif
