import ArgumentParser
import BranchAPI
import BranchCore
import Foundation
import OpenAPIRuntime

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

    @Option(help: "With --summary: after the counts, the changed rows of this table ('*': the most changed one), at most --limit.")
    var rowsOf: String?

    @Option(help: "Continue a diff where --limit stopped it (the cursor it printed).")
    var cursor: String?

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let effectiveLimit = limit.map { $0 == 0 ? nil : $0 } ?? (output.json ? nil : 500)
            let request = Components.Schemas.DiffRequest(
                cursor: cursor, from: from, limit: effectiveLimit, rowsOf: rowsOf, schemaOnly: schemaOnly ? true : nil,
                schemas: schemas.isEmpty ? nil : schemas, summary: summary ? true : nil, tables: tables.isEmpty ? nil : tables, to: to)
            let lines = try await APIClient.make(streaming: true).diff(
                path: .init(project: try project.resolve()), body: .json(request)
            ).ok.body.applicationXNdjson
            var printer = DiffPrinter(json: output.json)
            var failure: ErrorDetail?
            // Each line is decoded and printed as it arrives.
            try await lines.forEachLine { text in
                let line: DiffLine
                let patches: [Int: [DiffPrinter.PatchOperation]]
                do {
                    line = try JSONDecoder.api.decode(DiffLine.self, from: Data(text))
                    patches = try DiffPrinter.patches(of: line, in: text)
                } catch let error as DecodingError {
                    throw CLIError(code: "bad_response", message: "The service sent a line this CLI does not understand: \(error).")
                }
                if let error = line.error { failure = error }
                printer.print(line, patches: patches)
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
    /// A JSON-patch operation as the service sent it (see `patches(of:in:)`).
    typealias PatchOperation = [String: OpenAPIValueContainer]

    let json: Bool
    var nextCursor: String?
    private var schemaHeaderShown = false
    private var currentTable: String?

    init(json: Bool) { self.json = json }

    /// The JSON-patch operations of a changed row's columns, by column index, as the service sent
    /// them: the generated `JSONPatchOperation.value` is optional, so `"value": null` (set a JSON
    /// null) and no value (`remove`) would both decode to nil. Empty when no column has a patch.
    static func patches(of line: DiffLine, in text: ArraySlice<UInt8>) throws -> [Int: [PatchOperation]] {
        guard line.row?.columns?.contains(where: { $0.patch != nil }) == true else { return [:] }
        struct Line: Decodable {
            struct Row: Decodable {
                struct Column: Decodable { var patch: [PatchOperation]? }
                var columns: [Column]?
            }
            var row: Row?
        }
        let columns = try JSONDecoder().decode(Line.self, from: Data(text)).row?.columns ?? []
        var patches: [Int: [PatchOperation]] = [:]
        for (index, column) in columns.enumerated() where column.patch != nil { patches[index] = column.patch }
        return patches
    }

    mutating func print(_ line: DiffLine, patches: [Int: [PatchOperation]] = [:]) {
        if json {
            let encoder = JSONEncoder.api
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            if let data = try? encoder.encode(DiffLineOutput(line: line, patches: patches)) { Stdout.write(data + Data("\n".utf8)) }
            if let end = line.end { nextCursor = end.nextCursor }
            return
        }
        switch line._type {
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
            for text in Self.rowLines(row, patches: patches) { Swift.print("  " + text) }
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
        case "columns":
            guard let columns = line.columns, !columns.counts.isEmpty else { return }
            let counts = columns.counts.map { "\($0.column) \($0.changed)" }.joined(separator: ", ")
            let scope = "of \(columns.rows) changed row\(columns.rows == 1 ? "" : "s")\(columns.complete ? "" : " counted")"
            Swift.print("\(Style.dim("──")) \(columns.table) values changed: \(counts) \(Style.dim("(\(scope))"))")
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

    static func rowLines(_ row: DiffRowChange, patches: [Int: [PatchOperation]]) -> [String] {
        let key = row.key.additionalProperties.isEmpty
            ? (row.count.map { "×\($0)" } ?? "")
            : row.key.additionalProperties.sorted { $0.key < $1.key }.map { "\($0.key)=\(value($0.value))" }.joined(separator: ", ")
        switch row.change {
        case "added":
            return [Style.green("+ \(key)  \(values(row.row?.additionalProperties))")]
        case "removed":
            return [Style.red("- \(key)  \(values(row.row?.additionalProperties))")]
        default:
            var lines = [Style.yellow("~ \(key)")]
            for (index, column) in (row.columns ?? []).enumerated() {
                if let patch = patches[index], !patch.isEmpty {
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

    static func patchText(_ operation: PatchOperation) -> String {
        let op = operation["op"]?.value as? String ?? "?"
        let path = operation["path"]?.value as? String ?? ""
        guard let value = operation["value"] else { return "\(op) \(path)" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let text = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
        return "\(op) \(path.isEmpty ? "/" : path) = \(shorten(text, to: 60))"
    }
}

/// A diff line as `--json` prints it: as decoded, except that a changed column's `old` and `new`
/// are written as `null` when NULL, never left out (a consumer must not have to guess), and its
/// patch operations are the ones the service sent (see `DiffPrinter.patches(of:in:)`). Mirrors
/// `DiffLine` and `DiffRowChange` field by field: a field added to them in the document needs a
/// line here.
private struct DiffLineOutput: Encodable {
    let line: DiffLine
    let patches: [Int: [DiffPrinter.PatchOperation]]

    enum CodingKeys: String, CodingKey { case type, schema, row, table, columns, end, error }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(line._type, forKey: .type)
        try container.encodeIfPresent(line.schema, forKey: .schema)
        try container.encodeIfPresent(line.row.map { Row(row: $0, patches: patches) }, forKey: .row)
        try container.encodeIfPresent(line.table, forKey: .table)
        try container.encodeIfPresent(line.columns, forKey: .columns)
        try container.encodeIfPresent(line.end, forKey: .end)
        try container.encodeIfPresent(line.error, forKey: .error)
    }

    struct Row: Encodable {
        let row: DiffRowChange
        let patches: [Int: [DiffPrinter.PatchOperation]]

        enum CodingKeys: String, CodingKey { case table, change, key, row, columns, count }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(row.table, forKey: .table)
            try container.encode(row.change, forKey: .change)
            try container.encode(row.key, forKey: .key)
            try container.encodeIfPresent(row.row, forKey: .row)
            try container.encodeIfPresent(
                row.columns.map { $0.enumerated().map { Column(column: $1, patch: patches[$0]) } }, forKey: .columns)
            try container.encodeIfPresent(row.count, forKey: .count)
        }
    }

    struct Column: Encodable {
        let column: DiffColumnChange
        let patch: [DiffPrinter.PatchOperation]?

        enum CodingKeys: String, CodingKey { case column, old, new, patch }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(column.column, forKey: .column)
            try container.encode(column.old, forKey: .old)
            try container.encode(column.new, forKey: .new)
            try container.encodeIfPresent(patch, forKey: .patch)
        }
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

            A resolution file is JSON: [{"table": "public.users", "key": {"id": "7"}, "take": "source"}, …]. \
            A resolution can also settle single cells: "cells" takes columns from the other side and \
            "values" writes your own, e.g. {"table": "public.users", "key": {"id": "7"}, "take": "target", \
            "cells": {"email": "source"}, "values": {"note": "merged by hand"}}.
            """)

    @Argument(help: "The branch to merge, or a past state of one: a snapshot of it, or BRANCH@INSTANT (2026-12-05T10:00:00Z, 15m-ago, 0/16B3748).")
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
        try await reportingErrors(json: output.json) {
            let resolved = try resolutions.map(Self.readResolutions)
            let request = Components.Schemas.MergeRequest(
                allowDestructive: allowDestructive ? true : nil, dryRun: dryRun ? true : nil, into: into, prefer: prefer, resolutions: resolved,
                source: source)
            let result = try await APIClient.make().merge(path: .init(project: try project.resolve()), body: .json(request)).ok.body.json
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
            let key = conflict.key.additionalProperties.sorted { $0.key < $1.key }.map { "\($0.key)=\(DiffPrinter.value($0.value))" }.joined(separator: ", ")
            let settled = conflict.resolution.map { Style.dim(" → \($0)") } ?? Style.red(" unresolved")
            print("\(Style.red("!")) \(conflict.table) \(key): \(conflict.kind)\(settled)")
            let base = DiffPrinter.values(conflict.base?.additionalProperties)
            print("    base:   \(base.isEmpty ? "(absent)" : base)")
            print("    source: \(conflict.source == nil ? "(deleted)" : DiffPrinter.values(conflict.source?.additionalProperties))")
            print("    target: \(conflict.target == nil ? "(deleted)" : DiffPrinter.values(conflict.target?.additionalProperties))")
        }
        if result.applied, let undo = result.undoSnapshot {
            let timing = result.operation.map { " " + Format.timing($0) } ?? ""
            print("\(Style.green("✓")) Applied in one transaction\(timing). Undo: branch restore \(undo) --in-place")
        }
    }
}
