import ArgumentParser
import BranchAPI
import BranchCore
import Foundation
import OpenAPIRuntime

#if canImport(Glibc)
import Glibc
#endif

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Encrypted, compressed backups to a directory or S3; restore anywhere; verify.",
        subcommands: [Create.self, List.self, Show.self, Restore.self, Verify.self, Export.self, Delete.self, BackupKeyCommand.self, Keygen.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back up a branch (default: the checked-out one): full the first time, then incremental.")

        @Argument(help: "The branch.")
        var branch: String?

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let job = try await APIClient.make().createBackup(
                    path: .init(project: try project.resolve()), body: .json(.init(branch: branch))
                ).accepted.body.json
                let done = try await JobWatcher.wait(for: job, quiet: output.json)
                if output.json { return try Format.printJSON(done) }
                guard let backup = done.backup else { return }
                let ratio = backup.rawBytes > 0 ? String(format: "%.0f%%", Double(backup.storedBytes) / Double(backup.rawBytes) * 100) : "-"
                print("\(Style.green("✓")) Backup \(Style.bold(backup.id)) of \(backup.branch): \(backup.kind), \(ByteCount.format(backup.rawBytes)) sent, \(ByteCount.format(backup.storedBytes)) stored (\(ratio)) in \(Format.duration(ms: done.durationMs ?? 0)).")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List backups.")

        @Flag(help: "List what is in the target (what a fresh pool could restore), not what this pool made.")
        var remote = false

        @Option(name: [.short, .long], help: "Only this project's backups.")
        var project: String?

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(
                await APIClient.make().listBackups(
                    query: .init(project: project ?? ProjectLink.find()?.link.project, remote: remote)
                ).ok.body.json
            ) { list in
                for verification in list.verifications ?? [] {
                    print("Last verified restore of \(verification.project): \(BackupOverview.verification(verification))")
                }
                if list.backups.isEmpty { return print("No backups.") }
                var table = Table("ID", "PROJECT", "BRANCH", "KIND", "STATUS", "SENT", "STORED", "AGE", "PARENT")
                for backup in list.backups {
                    table.add(
                        backup.id, backup.project, backup.branch, backup.kind, Style.status(backup.status == "complete" ? "succeeded" : backup.status),
                        ByteCount.format(backup.rawBytes), ByteCount.format(backup.storedBytes), Format.age(backup.startedAt), backup.parentID ?? "-")
                }
                print(table.rendered)
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a backup's database to stdout as SQL (pg_dump) or JSON Lines, readable without Branch.",
            discussion: """
                The service receives the backup's chain into a throw-away server, reads it and removes it; no project \
                is touched. Instance admin; audited. Example: branch backup export ID > shop.sql && psql NEW_DATABASE_URL -f shop.sql
                """)

        @Argument(help: "The backup id.")
        var id: String

        @Option(help: "sql or json.")
        var format = "sql"

        @Option(help: "Only this table (schema.table).")
        var table: String?

        @Flag(help: "Print an error as JSON (the export itself is SQL or JSON Lines either way).")
        var json = false

        func run() async throws {
            try await reportingErrors(json: json) {
                // Written to stdout piece by piece as it arrives: memory stays flat whatever the size.
                let body = try await APIClient.make(streaming: true).exportBackup(
                    path: .init(backup: id), query: .init(format: format, table: table)
                ).ok.body
                let export: HTTPBody = switch body {
                case .applicationSql(let sql): sql
                case .applicationXNdjson(let lines): lines
                }
                for try await chunk in export { Stdout.write(chunk) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one backup.")

        @Argument(help: "The backup id.")
        var id: String

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().getBackup(path: .init(backup: id)).ok.body.json) { backup in
                var table = Table("BACKUP", backup.id)
                table.add("project / branch", "\(backup.project) / \(backup.branch)")
                table.add("kind", backup.kind + (backup.parentID.map { " of \($0)" } ?? ""))
                table.add("status", backup.status + (backup.error.map { ": \($0)" } ?? ""))
                table.add("sent / stored", "\(ByteCount.format(backup.rawBytes)) / \(ByteCount.format(backup.storedBytes))")
                table.add("target", backup.target)
                table.add("key", backup.keyID ?? "-")
                table.add("started", ISO8601DateFormatter().string(from: backup.startedAt))
                print(table.rendered)
            }
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup (and the ones it builds on) as a new branch; in an empty pool this recreates the project.")

        @Argument(help: "The backup id.")
        var id: String

        @Option(name: .customLong("as"), help: "Name of the new branch.")
        var name: String

        @Option(name: [.short, .long], help: "Project to restore into (default: the backup's).")
        var project: String?

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let job = try await APIClient.make().restoreBackup(
                    path: .init(backup: id), body: .json(.init(_as: name, project: project))
                ).accepted.body.json
                let done = try await JobWatcher.wait(for: job, quiet: output.json)
                if output.json { return try Format.printJSON(done) }
                if let branch = done.branch {
                    print("\(Style.green("✓")) Restored \(id) as branch \(Style.bold(branch.name)) of \(branch.project) in \(Format.duration(ms: done.durationMs ?? 0)); port \(branch.port).")
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a backup end to end: authenticate every chunk, restore it to a scratch copy, read every table, amcheck every index.")

        @Argument(help: "The backup id.")
        var id: String

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let job = try await APIClient.make().verifyBackup(path: .init(backup: id)).accepted.body.json
                let done = try await JobWatcher.wait(for: job, quiet: output.json)
                if output.json { return try Format.printJSON(done) }
                if let report = done.verify {
                    print("\(Style.green("✓")) Backup \(report.backup) verified: \(report.chunksVerified) chunks (\(ByteCount.format(report.bytesVerified))) authenticated across \(report.chain.count) backup\(report.chain.count == 1 ? "" : "s"); \(report.tables) tables, \(report.rows) rows read; " + (report.indexesChecked.map { "\($0) indexes checked with amcheck" } ?? "amcheck not available") + " (\(Format.duration(ms: report.durationMs))).")
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a backup from the target.")

        @Argument(help: "The backup id.")
        var id: String

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().deleteBackup(path: .init(backup: id)).ok.body.json) { result in
                print("\(Style.green("✓")) Deleted backup \(id).")
            }
        }
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random backup key (base64 of 32 bytes), for --backup-key-file or BRANCH_BACKUP_KEY. Keep a copy off the server.")

        func run() async throws {
            var bytes = [UInt8](repeating: 0, count: 32)
            var generator = SystemRandomNumberGenerator()
            for index in bytes.indices { bytes[index] = generator.next() }
            print(Data(bytes).base64EncodedString())
        }
    }
}

/// Polls a job until it ends, drawing a progress bar with bytes and rate on a terminal.
enum JobWatcher {
    static func wait(for job: JobInfo, quiet: Bool) async throws -> JobInfo {
        let live = !quiet && isatty(STDERR_FILENO) == 1
        let client = try APIClient.make()
        var current = job
        while current.status == "running" {
            try await Task.sleep(for: .milliseconds(250))
            current = try await client.getJob(path: .init(job: job.id)).ok.body.json
            if live { draw(current) }
        }
        if live { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        if current.status == "failed" {
            throw CLIError(code: current.errorCode ?? "job_failed", message: current.errorMessage ?? "The job failed.", hint: current.errorHint)
        }
        return current
    }

    static func draw(_ job: JobInfo) {
        let spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"][Int(Date().timeIntervalSince1970 * 8) % 10]
        var line = "\r\u{1B}[2K\(spinner) \(job.step ?? job.kind)  \(ByteCount.format(job.bytesDone))  \(ByteCount.format(UInt64(job.bytesPerSecond)))/s"
        if let counts = job.counts {
            // An import: tables and rows so far, of the source's size on disk, and the time left.
            line += "  \(counts.tablesDone)/\(counts.tablesTotal) tables  \(counts.rowsDone) rows  of ~\(ByteCount.format(UInt64(counts.bytesTotal)))"
            if let eta = counts.etaSeconds { line += "  ETA \(Int(eta.rounded()))s" }
        }
        FileHandle.standardError.write(Data(line.utf8))
    }
}
