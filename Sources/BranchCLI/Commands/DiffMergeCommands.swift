import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

struct Diff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what changed between two branches, snapshots, instants or backups: schema, then rows.",
        discussion: """
            Each side is a branch (main), a snapshot (id or name), a branch at an instant \
            (main@2026-11-21T10:00:00Z) or a backup (backup:ID). Snapshots, instants and backups are read \
            through a temporary read-only Postgres, so live branches are not disturbed.

            In the terminal, at most --limit row changes are shown (default 500; 0 shows all) and the \
            command prints the --cursor that continues. --json streams the documented JSON Lines format \
            (one object per line: schema, row, table, end), unlimited unless --limit is given.
            """)

    @Argument(help: "The first side (the 'before').")
    var from: String

    @Argument(help: "The second side (the 'after').")
    var to: String

    @Option(name: .customLong("table"), help: "Only this table (table or schema.table); repeatable.")
    var tables: [String] = []

    @Option(name: .customLong("schema"), help: "Only this schema; repeatable.")
    var schemas: [String] = []

    @Flag(help: "Only the schema changes.")
    var schemaOnly = false

    @Flag(help: "Only counts: the schema changes and one line per table.")
    var summary = false

    @Option(help: "At most this many row changes (terminal default 500; 0: all).")
    var limit: Int?

    @Option(help: "Continue a diff where --limit stopped it (the cursor it printed).")
    var cursor: String?

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors {
            let effectiveLimit = limit.map { $0 == 0 ? nil : $0 } ?? (output.json ? nil : 500)
            let request = DiffRequest(
                from: from, to: to, tables: tables.isEmpty ? nil : tables, schemas: schemas.isEmpty ? nil : schemas,
                schemaOnly: schemaOnly ? true : nil, summary: summary ? true : nil, limit: effectiveLimit, cursor: cursor)
            var printer = DiffPrinter(json: output.json)
            var failure: ErrorBody.Detail?
            try await APIClient().streamLines(APIPath.projects(try project.resolve()) + "/diff", request, as: DiffLine.self) { line in
                if let error = line.error { failure = error }
                printer.print(line)
            }
            if let failure { throw CLIError(code: failure.code, message: failure.message, hint: failure.hint) }
            if let next = printer.nextCursor, !output.json {
                var command = "branch diff \(from) \(to)"
                for table in tables { command += " --table \(table)" }
                for schema in schemas { command += " --schema \(schema)" }
                if let limit { command += " --limit \(limit)" }
                if let explicit = project.project { command += " --project \(explicit)" }
                print(Style.dim("More changes: \(command) --cursor \(next)"))
            }
        }
    }
}

/// Renders diff lines for a terminal (or passes them through as JSON Lines), line by line.
struct DiffPrinter {
    let json: Bool
    var nextCursor: String?
    private var schemaHeaderShown = false
    private var currentTable: String?

    init(json: Bool) { self.json = json }

    mutating func print(_ line: DiffLine) {
        if json {
            let encoder = JSONEncoder.api
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            if let data = try? encoder.encode(line) { Stdout.write(data + Data("\n".utf8)) }
            if let end = line.end { nextCursor = end.nextCursor }
            return
        }
        switch line.type {
        case "schema":
            guard let change = line.schema else { return }
            if !schemaHeaderShown {
                Swift.print(Style.bold("Schema"))
                schemaHeaderShown = true
            }
            Swift.print("  " + Self.schemaLine(change))
        case "row":
            guard let row = line.row else { return }
            if currentTable != row.table {
                Swift.print(Style.bold(row.table))
                currentTable = row.table
            }
            for text in Self.rowLines(row) { Swift.print("  " + text) }
        case "table":
            guard let table = line.table else { return }
            let total = table.added + table.removed + table.changed
            let counts = total == 0
                ? Style.dim("no changes")
                : [
                    Style.green("\(table.added) added"), Style.red("\(table.removed) removed"), Style.yellow("\(table.changed) changed"),
                ].joined(separator: ", ")
            let partial = table.complete ? "" : Style.dim(" (so far)")
            Swift.print("\(Style.dim("──")) \(table.table): \(counts)\(partial) \(Style.dim("[\(table.method)]"))")
            currentTable = nil
        case "end":
            guard let end = line.end else { return }
            nextCursor = end.nextCursor
            var parts = ["\(end.schemaChanges) schema change\(end.schemaChanges == 1 ? "" : "s")"]
            if end.breakingChanges > 0 { parts[0] += " (" + Style.red("\(end.breakingChanges) breaking") + ")" }
            parts += [Style.green("\(end.rowsAdded) added"), Style.red("\(end.rowsRemoved) removed"), Style.yellow("\(end.rowsChanged) changed")]
            Swift.print(
                "\(Style.bold("\(end.from) → \(end.to)")): \(parts.joined(separator: ", ")) \(Style.dim("in \(Format.duration(ms: end.durationMs)), read \(ByteCount.format(end.bytesFromFirst)) + \(ByteCount.format(end.bytesFromSecond))"))")
        default:
            break
        }
    }

    static func schemaLine(_ change: DiffSchemaChange) -> String {
        let mark = switch change.change {
        case "added": Style.green("+")
        case "removed": Style.red("-")
        default: Style.yellow("~")
        }
        var text = "\(mark) \(change.objectType) \(Style.bold(change.name))"
        if change.change == "changed", let from = change.from, let to = change.to { text += ": \(shorten(from)) → \(shorten(to))" }
        text += change.classification == "breaking" ? "  " + Style.red("BREAKING") : "  " + Style.dim("additive")
        if let reason = change.reason { text += Style.dim(" (\(reason))") }
        return text
    }

    static func rowLines(_ row: DiffRowChange) -> [String] {
        let key = row.key.isEmpty
            ? (row.count.map { "×\($0)" } ?? "")
            : row.key.sorted { $0.key < $1.key }.map { "\($0.key)=\(value($0.value))" }.joined(separator: ", ")
        switch row.change {
        case "added":
            return [Style.green("+ \(key)  \(values(row.row))")]
        case "removed":
            return [Style.red("- \(key)  \(values(row.row))")]
        default:
            var lines = [Style.yellow("~ \(key)")]
            for column in row.columns ?? [] {
                if let patch = column.patch, !patch.isEmpty {
                    lines.append("    \(column.column): " + patch.map(patchText).joined(separator: "; "))
                } else {
                    lines.append("    \(column.column): \(Style.red(value(column.old))) → \(Style.green(value(column.new)))")
                }
            }
            return lines
        }
    }

    static func values(_ row: [String: String?]?) -> String {
        guard let row else { return "" }
        return "{" + row.sorted { $0.key < $1.key }.map { "\($0.key): \(value($0.value))" }.joined(separator: ", ") + "}"
    }

    /// A value as the terminal shows it: NULL apart from '' (quoted), long values cut.
    static func value(_ text: String?) -> String {
        guard let text else { return "NULL" }
        let quoted = "'" + text.replacingOccurrences(of: "'", with: "''").replacingOccurrences(of: "\n", with: "\\n") + "'"
        return shorten(quoted)
    }

    static func shorten(_ text: String, to width: Int = 80) -> String {
        guard text.count > width else { return text }
        return String(text.prefix(width - 1)) + "…" + Style.dim("(\(ByteCount.format(UInt64(text.utf8.count))))")
    }

    static func patchText(_ operation: JSONValue) -> String {
        let op = operation["op"]?.stringValue ?? "?"
        let path = operation["path"]?.stringValue ?? ""
        guard let value = operation["value"] else { return "\(op) \(path)" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        return "\(op) \(path.isEmpty ? "/" : path) = \(shorten(text, to: 60))"
    }
}

struct Merge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge a branch into another (default: its parent): a three-way merge from the source's base snapshot.",
        discussion: """
            The source's schema changes since its base are replayed on the target as generated DDL \
            (destructive ones need --allow-destructive), then its row changes, in one transaction. \
            Rows both sides changed differently are conflicts: they are listed with their base, source \
            and target values, and the merge stops unless --prefer or a resolution file settles them \
            (exit code 2). The target is snapshotted first; the command prints how to undo.

            A resolution file is JSON: [{"table": "public.users", "key": {"id": "7"}, "take": "source"}, …].
            """)

    @Argument(help: "The branch to merge.")
    var source: String

    @Option(help: "The branch to merge into (default: the source's parent).")
    var into: String?

    @Option(help: "Settle every conflict with the source's or the target's version: source or target.")
    var prefer: String?

    @Option(help: "A JSON file of per-row resolutions (see above).")
    var resolutions: String?

    @Flag(help: "Also replay destructive schema changes (dropped tables or columns, narrowed types…).")
    var allowDestructive = false

    @Flag(help: "Show the plan and the conflicts; change nothing.")
    var dryRun = false

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors {
            let resolved = try resolutions.map(Self.readResolutions)
            let request = MergeRequest(
                source: source, into: into, prefer: prefer, resolutions: resolved, allowDestructive: allowDestructive ? true : nil,
                dryRun: dryRun ? true : nil)
            let result: MergeResult = try await APIClient().post(APIPath.projects(try project.resolve()) + "/merge", request)
            let unresolved = result.conflicts.filter { $0.resolution == nil }
            if output.json {
                try Format.printJSON(result)
            } else {
                Self.printPlan(result)
            }
            if !result.dryRun && !result.applied && !unresolved.isEmpty {
                printError(
                    "\(unresolved.count) conflict\(unresolved.count == 1 ? "" : "s") left unresolved; nothing was merged.",
                    hint: "Pass --prefer source|target, or a --resolutions file naming each row's winner.")
                throw ExitCode(2)
            }
        }
    }

    static func readResolutions(_ path: String) throws -> [MergeResolution] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError(code: "file_not_found", message: "Cannot read the resolution file \(path).")
        }
        struct Wrapped: Decodable { var resolutions: [MergeResolution] }
        if let list = try? JSONDecoder().decode([MergeResolution].self, from: data) { return list }
        if let wrapped = try? JSONDecoder().decode(Wrapped.self, from: data) { return wrapped.resolutions }
        throw CLIError(
            code: "invalid_resolutions", message: "\(path) is not a list of resolutions.",
            hint: #"Write [{"table": "public.users", "key": {"id": "7"}, "take": "source"}]."#)
    }

    static func printPlan(_ result: MergeResult) {
        let nothing = result.schemaChanges.isEmpty && result.tables.allSatisfy { $0.inserts + $0.updates + $0.deletes == 0 } && result.conflicts.isEmpty
        let verb = result.applied ? "Merged" : result.dryRun ? "Plan to merge" : nothing ? "Nothing to merge from" : "Not merged"
        print(Style.bold("\(verb) \(result.source) → \(result.target)") + Style.dim(" (base \(result.base))"))
        if !result.schemaChanges.isEmpty {
            print(Style.bold("Schema"))
            for change in result.schemaChanges { print("  " + DiffPrinter.schemaLine(change)) }
            for statement in result.schemaStatements { print(Style.dim("    \(statement)")) }
        }
        if !result.tables.isEmpty {
            var table = Table("TABLE", "INSERT", "UPDATE", "DELETE", "CONFLICTS")
            for plan in result.tables {
                table.add(
                    plan.table, Style.green("\(plan.inserts)"), Style.yellow("\(plan.updates)"), Style.red("\(plan.deletes)"),
                    plan.conflicts > 0 ? Style.red("\(plan.conflicts)") : "0")
            }
            print(table.rendered)
        } else if result.schemaChanges.isEmpty {
            print(Style.dim("Nothing to merge: the source has not changed since its base."))
        }
        for conflict in result.conflicts {
            let key = conflict.key.sorted { $0.key < $1.key }.map { "\($0.key)=\(DiffPrinter.value($0.value))" }.joined(separator: ", ")
            let settled = conflict.resolution.map { Style.dim(" → \($0)") } ?? Style.red(" unresolved")
            print("\(Style.red("!")) \(conflict.table) \(key): \(conflict.kind)\(settled)")
            print("    base:   \(DiffPrinter.values(conflict.base).isEmpty ? "(absent)" : DiffPrinter.values(conflict.base))")
            print("    source: \(conflict.source == nil ? "(deleted)" : DiffPrinter.values(conflict.source))")
            print("    target: \(conflict.target == nil ? "(deleted)" : DiffPrinter.values(conflict.target))")
        }
        if result.applied, let undo = result.undoSnapshot {
            let timing = result.operation.map { " " + Format.timing($0) } ?? ""
            print("\(Style.green("✓")) Applied in one transaction\(timing). Undo: branch restore \(undo) --in-place")
        }
    }
}
