import BranchAPI
import Foundation
package import MCP
import OpenAPIRuntime

/// diff: the API streams JSON Lines; the tool gathers them into one answer.
enum DiffTool {
    static let all = [diff]

    /// Row changes answered when the call sets no limit: enough to see what changed, small enough
    /// for a model's context.
    static let defaultLimit = 100

    static let diff = ToolSpec(
        name: "diff", title: "Diff two points",
        description: """
            Compares two points of a project, schema first, then rows. Each side is a branch (main), a \
            snapshot (id or name), a branch at an instant (main@2026-11-21T10:00:00Z) or a backup \
            (backup:ID); snapshots, instants and backups are read through a temporary read-only server. \
            Answers schemaChanges (each added, removed or changed, classified additive or breaking), \
            rowChanges (added, removed, changed rows with their key and values), one summary per table, \
            and the totals in end. At most limit row changes (default 100) are answered; end.nextCursor, \
            when present, continues with cursor.
            """,
        properties: [
            .project,
            .string("from", "The 'before' side, e.g. main.", required: true),
            .string("to", "The 'after' side, e.g. the branch being tried.", required: true),
            .strings("tables", "Only these tables (table or schema.table)."),
            .strings("schemas", "Only these schemas."),
            .bool("schemaOnly", "Only the schema changes (default false)."),
            .bool("summary", "Only the schema changes and one count line per table (default false)."),
            .integer("limit", "At most this many row changes (default 100).", minimum: 1, maximum: 10_000),
            .string("cursor", "Continue a diff where limit cut it short: the end.nextCursor of the previous answer."),
        ],
        readOnly: true
    ) { arguments, context in
        let request = Components.Schemas.DiffRequest(
            cursor: try arguments.optionalString("cursor"), from: try arguments.string("from"),
            limit: try arguments.optionalInt("limit", in: 1...10_000) ?? defaultLimit,
            schemaOnly: try arguments.optionalBool("schemaOnly"), schemas: try arguments.optionalStrings("schemas"),
            summary: try arguments.optionalBool("summary"), tables: try arguments.optionalStrings("tables"), to: try arguments.string("to"))
        let lines = try await context.api.diff(path: .init(project: try arguments.project()), body: .json(request)).ok.body.applicationXNdjson
        var gathered = DiffGathering()
        try await lines.forEachJSONLine { try gathered.add($0) }
        return ToolOutput.object(try gathered.answer())
    }
}

/// The lines of a diff stream gathered into one object: `schemaChanges`, `rowChanges`, `tables`
/// and `end`, each as the service sent it. An `error` line (a failure after the stream started)
/// becomes the tool's failure.
package struct DiffGathering {
    var schemaChanges: [Value] = []
    var rowChanges: [Value] = []
    var tables: [Value] = []
    var end: Value?
    var failure: ToolFailure?

    package init() {}

    package mutating func add(_ line: Value) throws {
        guard let object = line.objectValue, let type = object["type"]?.stringValue else {
            throw ToolFailure(code: "bad_response", message: "The service sent a diff line without a type.")
        }
        switch type {
        case "schema": if let change = object["schema"] { schemaChanges.append(change) }
        case "row": if let row = object["row"] { rowChanges.append(row) }
        case "table": if let table = object["table"] { tables.append(table) }
        case "end": end = object["end"]
        case "error":
            let detail = object["error"]?.objectValue ?? [:]
            failure = ToolFailure(
                code: detail["code"]?.stringValue ?? "diff_failed", message: detail["message"]?.stringValue ?? "The diff failed.",
                hint: detail["hint"]?.stringValue, detail: detail)
        default: break  // A kind of line a newer service sends: nothing to gather.
        }
    }

    package func answer() throws -> Value {
        if let failure { throw failure }
        guard let end else {
            throw ToolFailure(code: "bad_response", message: "The diff stream ended without its end line.")
        }
        return .object(["schemaChanges": .array(schemaChanges), "rowChanges": .array(rowChanges), "tables": .array(tables), "end": end])
    }
}

extension HTTPBody {
    /// Hands each non-empty line, read as JSON, to `handle` as it arrives; a last line without
    /// `\n` counts too. Only the line being received is held in memory.
    func forEachJSONLine(_ handle: (Value) throws -> Void) async throws {
        var pending = Data()
        func flush() throws {
            defer { pending.removeAll(keepingCapacity: true) }
            guard pending.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) else { return }
            do {
                try handle(try PlainJSON.value(from: pending))
            } catch let error as DecodingError {
                throw ToolFailure(code: "bad_response", message: "The service sent a diff line that is not JSON: \(error).")
            }
        }
        for try await chunk in self {
            var start = chunk.startIndex
            while let newline = chunk[start...].firstIndex(of: UInt8(ascii: "\n")) {
                pending.append(contentsOf: chunk[start..<newline])
                try flush()
                start = chunk.index(after: newline)
            }
            pending.append(contentsOf: chunk[start...])
        }
        try flush()
    }
}
