import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

extension ProjectCommand {
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Create a project from a running Postgres (a Supabase project included), read in one consistent snapshot.",
            discussion: """
                Carries the schema, the rows, sequences, RLS policies, comments, the extensions this server has and the roles the
                source's grants name (created without login). From a Supabase project, auth.users and auth.identities come over
                with their password hashes, so users sign in unchanged; supabase_migrations becomes the migration history.
                Read-only credentials suffice. A failure or a kill leaves no project behind.
                """)

        @Argument(help: "The new project's name.")
        var name: String

        @Option(help: "The source: postgres://USER:PASSWORD@HOST:PORT/DATABASE (add ?sslmode=require for TLS).")
        var from: String

        @Option(help: "Parallel COPY workers and index builds, 1 to 16 (default: two per core of the server, 2 to 8).")
        var workers: Int?

        @Flag(help: "Keep main in sync with the source by logical replication: main is read-only, its branches writable.")
        var mirror = false

        @Option(help: "With --mirror: the source's publication to subscribe to (default: Branch makes branch_NAME when the user may).")
        var publication: String?

        @Flag(help: "No daily backup schedule.")
        var noBackups = false

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let client = try APIClient.make()
                let started = try await client.importProject(
                    body: .json(.init(backups: !noBackups, from: from, mirror: mirror, name: name, publication: publication, workers: workers))
                ).accepted.body.json
                let job = try await JobWatcher.wait(for: started, quiet: output.json)
                guard let report = job._import else { throw CLIError(code: "internal_error", message: "The import ended without a report.") }
                if output.json { return try Format.printJSON(report) }
                Self.print(report, name: name)
            }
        }

        static func print(_ report: Components.Schemas.ImportReport, name: String) {
            Swift.print("\(Style.green("✓")) Imported \(Style.bold(name)) from \(report.source) (Postgres \(report.sourceVersion)\(report.supabase ? ", Supabase" : "")) in \(Format.duration(ms: report.durationMs)).")
            Swift.print("  \(report.tables) tables, \(report.rows) rows, \(Format.bytes(report.bytes)); schemas \(report.schemas.joined(separator: ", ")).")
            if !report.extensions.isEmpty { Swift.print("  Extensions: \(report.extensions.joined(separator: ", ")).") }
            if !report.rolesCreated.isEmpty { Swift.print("  Roles created without login (the source's grants name them): \(report.rolesCreated.joined(separator: ", ")).") }
            if report.supabase {
                Swift.print("  Auth: \(report.authUsers) users and \(report.authIdentities) identities, with their passwords; \(report.migrations) migrations in the history.")
            }
            if !report.notCarried.isEmpty {
                Swift.print(Style.yellow("  Not carried over:"))
                for item in report.notCarried { Swift.print("    \(item.kind) \(item.name): \(item.reason)") }
            }
            for warning in report.warnings { Swift.print(Style.yellow("  ! ") + warning) }
            if let keys = report.keys {
                let api = DataAPIKeys(keys)
                Swift.print("  Data API: \(api.url)  (keys: `branch keys --project \(name)`)")
            }
            if let publication = report.mirror {
                Swift.print("  Mirror: main follows the source (publication \(publication)); it is read-only, its branches are writable. `branch project show \(name)` shows the lag.")
            }
            Swift.print("Next: `branch link \(name)`, then `branch create my-feature` to try changes on a copy.")
        }
    }
}
