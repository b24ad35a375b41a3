import ArgumentParser
import BranchAPI
import Crypto
import Foundation

/// `branch migrate`: apply, check, list and roll back migrations on a branch.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply migrations whole or not at all, try them on a throw-away branch first, list and roll them back.",
        discussion: """
            A migration runs in one transaction, after a snapshot of the branch, and is recorded in the \
            branch's own history (so branches carry it). Files named `<version>_<name>.sql` (the Supabase \
            CLI's supabase/migrations layout) keep their version and name.
            """,
        subcommands: [Apply.self, Up.self, Check.self, List.self, Rollback.self])

    /// The options every subcommand shares.
    struct Target: ParsableArguments {
        @Option(name: [.short, .long], help: "The branch (default: the checked-out one).")
        var branch: String?
        @OptionGroup var project: ProjectOptions
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply migration files, in the order given; stop at the first that fails.")

        @Argument(help: "SQL files.") var files: [String]
        @Option(help: "SQL that undoes the migration, run by a rollback (only with one file).") var down: String?
        @Option(help: "The migration's name (default: from the file name; only with one file).") var name: String?
        @OptionGroup var target: Target
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                guard !files.isEmpty else { throw CLIError(code: "invalid_request", message: "No migration file given.") }
                guard files.count == 1 || (down == nil && name == nil) else {
                    throw CLIError(code: "invalid_request", message: "--down and --name go with one file.")
                }
                let (client, project, branch) = try await MigrationFiles.target(target)
                var applied: [Components.Schemas.MigrationApplied] = []
                for path in files {
                    let file = try MigrationFiles.read(path)
                    let downSQL = try down.map { try SQLText.read(query: nil, file: $0) }
                    let result = try await client.applyMigration(
                        path: .init(project: project, branch: branch),
                        body: .json(.init(down: downSQL, name: name ?? file.name, sql: file.sql, version: file.version))).created.body.json
                    applied.append(result)
                    if !output.json { MigrationFiles.printApplied(result) }
                }
                if output.json { try Format.printJSON(applied.count == 1 ? AnyEncodable(applied[0]) : AnyEncodable(applied)) }
            }
        }
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the *.sql files of a folder in name order, skipping those already applied; refuse an applied file that changed.")

        @Argument(help: "The folder (e.g. supabase/migrations).") var directory: String
        @OptionGroup var target: Target
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let (client, project, branch) = try await MigrationFiles.target(target)
                let files = try MigrationFiles.folder(directory)
                let history = try await client.listMigrations(path: .init(project: project, branch: branch)).ok.body.json.migrations
                let plan = try MigrationFiles.plan(files, history: history)
                var applied: [Components.Schemas.MigrationApplied] = []
                for file in plan.pending {
                    let result = try await client.applyMigration(
                        path: .init(project: project, branch: branch),
                        body: .json(.init(name: file.name, sql: file.sql, version: file.version))).created.body.json
                    applied.append(result)
                    if !output.json { MigrationFiles.printApplied(result) }
                }
                if output.json { return try Format.printJSON(UpResult(applied: applied, skipped: plan.skipped.map(\.fileName))) }
                print(Style.dim("\(applied.count) applied, \(plan.skipped.count) already applied."))
            }
        }

        struct UpResult: Encodable {
            var applied: [Components.Schemas.MigrationApplied]
            var skipped: [String]
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply a migration to a throw-away branch and report what it would change; the branch is left untouched.")

        @Argument(help: "The SQL file.") var file: String
        @OptionGroup var target: Target
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let (client, project, branch) = try await MigrationFiles.target(target)
                let migration = try MigrationFiles.read(file)
                let report = try await client.applyMigration(
                    path: .init(project: project, branch: branch), query: .init(check: true),
                    body: .json(.init(name: migration.name, sql: migration.sql, version: migration.version))).ok.body.json
                if output.json {
                    try Format.printJSON(report)
                } else {
                    MigrationFiles.printCheck(report, file: file)
                }
                if !report.ok { throw ExitCode(1) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The branch's applied migrations, oldest first.")

        @OptionGroup var target: Target
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let (client, project, branch) = try await MigrationFiles.target(target)
                let list = try await client.listMigrations(path: .init(project: project, branch: branch)).ok.body.json
                if output.json { return try Format.printJSON(list) }
                guard !list.migrations.isEmpty else { return print("No migrations applied to \(branch).") }
                var table = Table("VERSION", "NAME", "APPLIED", "BY", "DOWN", "SOURCE")
                for migration in list.migrations {
                    table.add(
                        migration.version, migration.name, Format.age(migration.appliedAt), migration.appliedBy ?? "-",
                        migration.hasDown ? "yes" : "-", migration.source.rawValue)
                }
                print(table.rendered)
            }
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Roll back a migration: its down script, or a restore of the snapshot taken before it. A dry run unless --confirm.")

        @Argument(help: "The migration's version.") var version: String
        @Flag(help: "Roll back for real (without it, only say what would happen and which writes would be lost).") var confirm = false
        @OptionGroup var target: Target
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let (client, project, branch) = try await MigrationFiles.target(target)
                let report = try await client.rollbackMigration(
                    path: .init(project: project, branch: branch, version: version), query: .init(confirm: confirm)).ok.body.json
                if output.json { return try Format.printJSON(report) }
                let how = report.method == .down ? "its down script" : "restoring snapshot \(report.snapshot ?? "?") (taken just before it)"
                if report.applied {
                    print("\(Style.green("✓")) Rolled back \(version) on \(branch) by \(how).")
                } else {
                    print("Would roll back \(version) on \(branch) by \(how).")
                }
                if report.lostWrites.isEmpty {
                    if report.method == .restore { print("No writes since the migration would be lost.") }
                } else {
                    print(report.applied ? "Writes since the migration that were undone:" : "Writes since the migration that would be lost:")
                    var table = Table("TABLE", "INSERTED", "UPDATED", "DELETED")
                    for lost in report.lostWrites { table.add(lost.table, String(lost.inserted), String(lost.updated), String(lost.deleted)) }
                    print(table.rendered)
                }
                if !report.applied { print(Style.dim("Run again with --confirm to roll back.")) }
            }
        }
    }
}

/// Migration files: read, named from `<version>_<name>.sql`, matched against a branch's history.
enum MigrationFiles {
    struct File {
        var fileName: String
        var version: String?
        var name: String
        var sql: String
        var checksum: String
    }

    static func target(_ target: MigrateCommand.Target) async throws -> (Client, String, String) {
        let project = try target.project.resolve()
        let client = try APIClient.make()
        return (client, project, try await BranchResolution.branch(target.branch, project: project, client: client))
    }

    static func read(_ path: String) throws -> File {
        let sql = try SQLText.read(query: nil, file: path)
        let fileName = URL(fileURLWithPath: path).lastPathComponent
        let parsed = parse(fileName)
        return File(
            fileName: fileName, version: parsed?.version, name: parsed?.name ?? String(fileName.replacing(/\.sql$/, with: "")), sql: sql,
            checksum: checksum(sql))
    }

    /// The folder's `*.sql` files in name order.
    static func folder(_ directory: String) throws -> [File] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw CLIError(code: "file_not_found", message: "Cannot read the folder \(directory).")
        }
        return try names.filter { $0.hasSuffix(".sql") }.sorted().map { try read(directory + "/" + $0) }
    }

    /// Which files are applied already (same version, or the same checksum) and which are not;
    /// an applied version whose file now has other SQL is refused.
    static func plan(_ files: [File], history: [Components.Schemas.MigrationInfo]) throws -> (pending: [File], skipped: [File]) {
        var pending: [File] = [], skipped: [File] = []
        for file in files {
            if let version = file.version, let applied = history.first(where: { $0.version == version }) {
                if !applied.checksum.isEmpty, applied.checksum != file.checksum {
                    throw CLIError(
                        code: "migration_changed",
                        message: "\(file.fileName) was applied as \(version) with other content (checksum \(applied.checksum.prefix(12))…, the file's \(file.checksum.prefix(12))…).",
                        hint: "Applied migrations are history: put the change in a new migration file.")
                }
                skipped.append(file)
            } else if history.contains(where: { $0.checksum == file.checksum }) {
                skipped.append(file)
            } else {
                pending.append(file)
            }
        }
        return (pending, skipped)
    }

    /// `20261205120000_create_todos.sql` → ("20261205120000", "create_todos").
    static func parse(_ fileName: String) -> (version: String, name: String)? {
        guard fileName.hasSuffix(".sql") else { return nil }
        let stem = fileName.dropLast(4)
        let digits = stem.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 32 else { return nil }
        let rest = stem.dropFirst(digits.count)
        guard rest.isEmpty || rest.first == "_" else { return nil }
        return (String(digits), rest.isEmpty ? String(digits) : String(rest.dropFirst()))
    }

    static func checksum(_ sql: String) -> String {
        SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func printApplied(_ result: Components.Schemas.MigrationApplied) {
        let migration = result.migration
        print("\(Style.green("✓")) Applied \(migration.version) \(Style.bold(migration.name)): \(result.statements) statement\(result.statements == 1 ? "" : "s"), "
            + "\(result.rowsAffected) row\(result.rowsAffected == 1 ? "" : "s") affected, in \(Format.duration(ms: result.durationMs))"
            + (migration.snapshot.map { Style.dim(" (snapshot \($0) taken before)") } ?? ""))
    }

    static func printCheck(_ report: Components.Schemas.MigrationCheck, file: String) {
        guard report.ok else {
            print("\(Style.red("✗")) \(file) fails: \(report.error?.message ?? "unknown error")")
            if let error = report.error {
                if let detail = error.detail { print("  detail: \(detail)") }
                if let statement = error.statement { print("  statement\(error.line.map { " (line \($0))" } ?? ""): \(statement.prefix(300))") }
                if let hint = error.hint { print("  hint: \(hint)") }
            }
            print(Style.dim("Nothing was changed."))
            return
        }
        let verdict = switch report.classification {
        case .none: "no schema change"
        case .additive: Style.green("additive")
        case .breaking: Style.red("breaking")
        }
        print("\(Style.green("✓")) \(file) applies (\(report.statements ?? 0) statements, \(report.rowsAffected) rows affected, "
            + "\(Format.duration(ms: report.durationMs)) on a copy): \(verdict)")
        if !report.schemaChanges.isEmpty {
            var table = Table("CHANGE", "OBJECT", "CLASS")
            for change in report.schemaChanges { table.add(change.kind, change.object, change.classification.rawValue) }
            print(table.rendered)
        }
        for endpoint in report.endpoints {
            var parts: [String] = []
            if !endpoint.columnsAdded.isEmpty { parts.append("+" + endpoint.columnsAdded.joined(separator: ", +")) }
            if !endpoint.columnsRemoved.isEmpty { parts.append("-" + endpoint.columnsRemoved.joined(separator: ", -")) }
            if !endpoint.columnsChanged.isEmpty { parts.append(endpoint.columnsChanged.joined(separator: "; ")) }
            print("  \(endpoint.change.rawValue) \(endpoint.path)\(parts.isEmpty ? "" : ": " + parts.joined(separator: "; "))")
        }
        print(Style.dim("The branch was left untouched; apply with `branch migrate apply \(file)`."))
    }
}

/// Any encodable value, for printing one result or a list the same way.
struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
