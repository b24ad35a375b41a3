import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

/// `branch backup key show|rotate|acknowledge`: the key the first start made, copied off the
/// server, replaced by a new one.
struct BackupKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "The backup key: print it to copy it off the server, then acknowledge that a copy is kept.",
        subcommands: [Show.self, Rotate.self, Acknowledge.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the backup key (base64), for a password manager or a safe: without it no backup can be restored. Instance admin only; audited.")

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().revealBackupKey().ok.body.json) { key in
                print(key.key)
                FileHandle.standardError.write(Data((
                    Style.dim("Backup key \(key.id) (in \(key.location)). Keep this line somewhere off this server; then run `branch backup key acknowledge`.")
                        + "\n").utf8))
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a new backup key and print it (base64) this once. The old key is kept to read the backups made with it; "
                + "the next backup of every branch is a full one. Instance admin only; audited.")

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().rotateBackupKey().ok.body.json) { key in
                print(key.key)
                FileHandle.standardError.write(Data((
                    Style.dim("New backup key \(key.id) (in \(key.location)); key \(key.retiredID ?? "?") is retired and still reads the backups made with it. "
                        + "Keep this line somewhere off this server; then run `branch backup key acknowledge`.")
                        + "\n").utf8))
            }
        }
    }

    struct Acknowledge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that a copy of the backup key is kept off the server: `branch status` stops warning (until the key changes).")

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().acknowledgeBackupKey().ok.body.json) { status in
                print("\(Style.green("✓")) Backup key \(status.id) acknowledged: a copy is kept off the server.")
            }
        }
    }
}

/// The backup lines of `branch status`, `branch backup list` and `branch project show`.
enum BackupOverview {
    /// The key warning (while not acknowledged) and every project's backups, verification and space.
    static func printStatus(_ status: Components.Schemas.StatusResponse) {
        if let warning = status.backupKey?.warning { print(Style.yellow("warning:") + " " + warning) }
        guard let projects = status.backups, !projects.isEmpty else { return }
        var table = Table("PROJECT", "BACKUP SCHEDULE", "LAST BACKUP", "LAST VERIFIED RESTORE", "BACKUPS", "WAL", "LOGS")
        for project in projects {
            table.add(
                project.project, project.schedule ?? Style.yellow("none"),
                project.lastBackupAt.map { "\(Format.age($0)) ago (\(project.lastBackupStatus ?? "?"))" } ?? "never",
                verification(project.lastVerification), Format.bytes(project.backupBytes), ByteCount.format(UInt64(project.walBytes)),
                ByteCount.format(UInt64(project.logBytes)))
        }
        print(table.rendered)
        if let seconds = status.verifyIntervalSeconds {
            print(Style.dim("The newest backup of each project is restored and checked every \(Seconds.format(seconds)) (--verify-interval)."))
        }
    }

    /// "2h ago, ok (backup b-…)" or the failure.
    static func verification(_ record: Components.Schemas.BackupVerification?) -> String {
        guard let record else { return "never" }
        let when = "\(Format.age(record.at)) ago"
        return record.ok ? "\(when), \(Style.green("ok")) (\(record.backup))" : "\(when), \(Style.red("FAILED")) (\(record.backup)): \(record.error ?? "")"
    }
}
