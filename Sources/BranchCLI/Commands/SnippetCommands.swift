import ArgumentParser
import BranchAPI
import Foundation

/// `branch snippet`: the project's saved SQL snippets, the ones the console's SQL editor lists
/// (shared with the project's members), from the terminal: list, show, save, run, delete.
struct SnippetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snippet", abstract: "List, show, save, run and delete the project's saved SQL snippets (shared with the SQL editor).",
        subcommands: [List.self, Show.self, Save.self, Run.self, Delete.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the saved snippets by folder and name (--history: your last runs in the SQL editor).")

        @Flag(help: "Your SQL editor history instead (newest first).") var history = false
        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let all = try await SnippetCommand.all(try project.resolve())
                let shown = all.filter { $0.kind == (history ? "history" : "snippet") }
                if output.json { return try Format.printJSON(Components.Schemas.SnippetList(snippets: shown)) }
                guard !shown.isEmpty else {
                    return Swift.print(history ? "No history yet." : "No snippets. Save one with `branch snippet save NAME -f query.sql` or from the SQL editor.")
                }
                var table = Table("NAME", "FOLDER", "FIRST LINE", "BY", "UPDATED")
                for snippet in shown {
                    let firstLine = snippet.sql.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
                    table.add(snippet.name, snippet.folder, String(firstLine.prefix(60)), snippet.author, Format.age(snippet.updatedAt))
                }
                Swift.print(table.rendered)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a snippet's SQL.")

        @Argument(help: "The snippet's name (or id).") var name: String
        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let snippet = try await SnippetCommand.find(name, project: try project.resolve())
                if output.json { return try Format.printJSON(snippet) }
                Swift.print(snippet.sql)
            }
        }
    }

    struct Save: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save SQL as a snippet (replacing the one of that name).", discussion: "The SQL comes as an argument, or with -f FILE ('-': standard input).")

        @Argument(help: "The snippet's name.") var name: String
        @Argument(help: "The SQL (or use --file).") var query: String?
        @Option(name: [.short, .long], help: "Read the SQL from this file ('-': standard input).") var file: String?
        @Option(help: "The folder to file it in (the SQL editor groups by folder).") var folder: String?
        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let sql = try SQLText.read(query: query, file: file)
                let name = try project.resolve()
                let existing = try await SnippetCommand.all(name).first { $0.kind == "snippet" && $0.name == self.name }
                let saved = try await APIClient.make().saveSnippet(
                    path: .init(project: name), body: .json(.init(id: existing?.id, kind: "snippet", name: self.name, sql: sql, folder: folder))
                ).created.body.json
                if output.json { return try Format.printJSON(saved) }
                Swift.print("\(Style.green("✓")) \(existing == nil ? "Saved" : "Replaced") snippet \(saved.name)\(saved.folder.isEmpty ? "" : " in \(saved.folder)"); run it with `branch snippet run \(saved.name)`.")
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a snippet on a branch (default: the checked-out one), its statements in one transaction, as `branch sql` does.")

        @Argument(help: "The snippet's name (or id).") var name: String
        @Option(name: [.short, .long], help: "The branch (default: the checked-out one).") var branch: String?
        @Flag(name: .customLong("read-only"), help: "Run in a read-only transaction that is rolled back (a viewer may).") var readOnly = false
        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let name = try project.resolve()
                let snippet = try await SnippetCommand.find(self.name, project: name)
                let client = try APIClient.make()
                let branchName = try await BranchResolution.branch(branch, project: name, client: client)
                try await SQLCommand.runAndPrint(
                    .init(query: snippet.sql), project: name, branch: branchName, readOnly: readOnly, json: output.json, client: client)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a saved snippet.")

        @Argument(help: "The snippet's name (or id).") var name: String
        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let name = try project.resolve()
                let snippet = try await SnippetCommand.find(self.name, project: name)
                let result = try await APIClient.make().deleteSnippet(path: .init(project: name, snippet: snippet.id)).ok.body.json
                if output.json { return try Format.printJSON(result) }
                Swift.print("\(Style.green("✓")) Deleted snippet \(snippet.name).")
            }
        }
    }

    static func all(_ project: String) async throws -> [Components.Schemas.Snippet] {
        try await APIClient.make().listSnippets(path: .init(project: project)).ok.body.json.snippets
    }

    /// The saved snippet with this name (or id); a clear error naming the others when there is none.
    static func find(_ name: String, project: String) async throws -> Components.Schemas.Snippet {
        let saved = try await all(project).filter { $0.kind == "snippet" }
        if let found = saved.first(where: { $0.name == name }) ?? saved.first(where: { $0.id == name }) { return found }
        throw CLIError(
            code: "snippet_not_found", message: "Project \(project) has no snippet named '\(name)'.",
            hint: saved.isEmpty ? "Save one with `branch snippet save NAME -f query.sql`." : "Its snippets: \(saved.map(\.name).joined(separator: ", ")).")
    }
}
