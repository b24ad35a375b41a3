import BranchAPI
import Foundation
import Mustache

/// One page of a table's changed rows as the unified view shows them: an added row is one `+`
/// line, a removed row one `−` line, a changed row two lines (old `−`, new `+`) where only the
/// changed cells are marked (`<del>`/`<ins>` and an aria-label), never by colour alone.
struct DiffRowTable: Sendable {
    struct Header: Sendable {
        var name: String
        var isKey: Bool
    }

    struct Cell: Sendable {
        /// nil: SQL NULL.
        var value: String?
        var isNull: Bool = false
        /// The value's first characters when it is long (the rest behind a <details>).
        var short: String?
        var truncated: Bool = false
        /// A changed cell: the old value (on the `−` line) or the new one (on the `+` line).
        var deleted: Bool = false
        var inserted: Bool = false
        /// An unchanged column of a changed row: the diff sends only what changed.
        var unknown: Bool = false
        var ariaLabel: String?
        var cssClass: String
        /// For json and jsonb columns, on the `+` line: the RFC 6902 operations from old to new.
        var patch: [String] = []
        var hasPatch: Bool = false
        /// A changed text cell that shares words with its other side: its words, the changed ones
        /// marked (`<del>` on the old line, `<ins>` on the new), instead of the whole value.
        var words: [TextDiff.Part]?
    }

    struct Line: Sendable {
        var cssClass: String
        var gutter: String
        var gutterLabel: String
        var cells: [Cell]
        /// The first line of a row carries its checkbox (spanning both lines of a changed row).
        var first: Bool
        var rowspan: Int
        /// The checkbox value naming the row (its key as JSON); nil for rows without a key.
        var select: String?
        var copies: String?
    }

    var headers: [Header]
    var lines: [Line]

    static let truncateAt = 80

    init(headers: [Header], lines: [Line]) {
        self.headers = headers
        self.lines = lines
    }

    /// `onlyChanged`: just the key columns and those some changed row on the page changed.
    init(rows: [Components.Schemas.DiffRowChange], onlyChanged: Bool) {
        var keyColumns: [String] = []
        var changedColumns = Set<String>()
        var allColumns = Set<String>()
        for row in rows {
            for column in row.key.additionalProperties.keys.sorted() where !keyColumns.contains(column) { keyColumns.append(column) }
            allColumns.formUnion(row.row?.additionalProperties.keys ?? [String: String?]().keys)
            for column in row.columns ?? [] { changedColumns.insert(column.column); allColumns.insert(column.column) }
        }
        let hasChangedRows = rows.contains { $0.change == "changed" }
        let others = (onlyChanged && hasChangedRows ? changedColumns : allColumns).subtracting(keyColumns).sorted()
        let columns = keyColumns + others
        headers = columns.map { Header(name: $0, isKey: keyColumns.contains($0)) }
        lines = rows.flatMap { Self.lines($0, columns: columns) }
    }

    static func lines(_ row: Components.Schemas.DiffRowChange, columns: [String]) -> [Line] {
        let key = row.key.additionalProperties
        let select = key.isEmpty ? nil : Self.keyJSON(key)
        let copies = row.count.flatMap { $0 > 1 ? "×\($0)" : nil }
        switch row.change {
        case "added", "removed":
            let added = row.change == "added"
            let values = row.row?.additionalProperties ?? key
            let cells = columns.map { column in
                cell(values[column] ?? nil, css: added ? "new" : "old")
            }
            return [Line(
                cssClass: added ? "added" : "removed", gutter: added ? "+" : "−", gutterLabel: added ? "added row" : "removed row", cells: cells,
                first: true, rowspan: 1, select: select, copies: copies)]
        default:
            let changes = Dictionary((row.columns ?? []).map { ($0.column, $0) }, uniquingKeysWith: { first, _ in first })
            // JSON cells list their operations instead.
            let words = changes.compactMapValues { change -> (old: [TextDiff.Part], new: [TextDiff.Part])? in
                guard change.patch == nil, let before = change.old, let after = change.new else { return nil }
                return TextDiff.words(before, after)
            }
            func side(_ old: Bool) -> [Cell] {
                columns.map { column in
                    if let value = key[column] { return cell(value, css: "key") }
                    guard let change = changes[column] else { return Cell(value: nil, unknown: true, ariaLabel: "unchanged", cssClass: "unchanged") }
                    var marked = cell(old ? change.old : change.new, css: "changed " + (old ? "old" : "new"))
                    marked.deleted = old
                    marked.inserted = !old
                    marked.ariaLabel = "changed from \(display(change.old)) to \(display(change.new))"
                    if let parts = words[column] {
                        marked.words = old ? parts.old : parts.new
                        marked.cssClass += " words"
                    }
                    if !old, let operations = change.patch, !operations.isEmpty {
                        marked.patch = operations.map(describe)
                        marked.hasPatch = true
                    }
                    return marked
                }
            }
            return [
                Line(cssClass: "modified-old", gutter: "−", gutterLabel: "changed row, before", cells: side(true), first: true, rowspan: 2, select: select, copies: nil),
                Line(cssClass: "modified-new", gutter: "+", gutterLabel: "changed row, after", cells: side(false), first: false, rowspan: 2, select: nil, copies: nil),
            ]
        }
    }

    /// `replace /theme = "dark"`.
    static func describe(_ operation: Components.Schemas.JSONPatchOperation) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let value = operation.value.flatMap { try? encoder.encode($0) }.map { " = " + String(decoding: $0, as: UTF8.self) } ?? ""
        let path = operation.path.isEmpty ? "(whole document)" : operation.path
        return "\(operation.op) \(path)\(value)"
    }

    static func cell(_ value: String?, css: String) -> Cell {
        var cell = Cell(value: value, isNull: value == nil, cssClass: css)
        if let value, value.count > truncateAt {
            cell.short = String(value.prefix(truncateAt))
            cell.truncated = true
        }
        return cell
    }

    static func display(_ value: String?) -> String {
        guard let value else { return "NULL" }
        let cut = value.count > truncateAt ? String(value.prefix(truncateAt)) + "…" : value
        return "'\(cut)'"
    }

    /// A row's key as sorted JSON: the value its checkbox sends, matched again on the server.
    static func keyJSON(_ key: [String: String?]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(key)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

// A page holds hundreds of cells: written in Swift (see `HTML`), not looked up by the template.
extension DiffRowTable {
    /// The table of `name`'s changed rows; `selectable` adds a checkbox per row (its key as JSON).
    func html(name: String, selectable: Bool) -> HTML {
        var html = HTML()
        html.markup("<table class=\"data diff-rows\">\n  <caption class=\"visually-hidden\">Changed rows of ")
        html.text(name)
        html.markup(": + added, − removed, a modified row as its old line and its new line</caption>\n  <thead><tr>")
        if selectable { html.markup("<th scope=\"col\"><span class=\"visually-hidden\">Select</span></th>") }
        html.markup("<th scope=\"col\"><span class=\"visually-hidden\">Change</span></th>")
        for header in headers {
            html.markup("<th scope=\"col\">")
            html.text(header.name)
            if header.isKey { html.markup(" <span class=\"badge\">key</span>") }
            html.markup("</th>")
        }
        html.markup("</tr></thead>\n  <tbody>\n")
        for line in lines {
            html.markup("  <tr")
            html.attribute("class", line.cssClass)
            html.markup(">\n    ")
            if selectable && line.first {
                html.markup("<td rowspan=\"")
                html.text(line.rowspan)
                html.markup("\">")
                if let select = line.select {
                    html.markup("<input type=\"checkbox\" name=\"row\"")
                    html.attribute("value", select)
                    html.markup(" aria-label=\"Select this row\">")
                }
                html.markup("</td>")
            }
            html.markup("\n    <td class=\"gutter\"")
            html.attribute("aria-label", line.gutterLabel)
            html.markup(">")
            html.text(line.gutter)
            if let copies = line.copies {
                html.markup("<span class=\"small\">")
                html.text(copies)
                html.markup("</span>")
            }
            html.markup("</td>\n    ")
            for cell in line.cells { cell.write(into: &html) }
            html.markup("\n  </tr>\n")
        }
        html.markup("  </tbody>\n</table>")
        return html
    }
}

extension DiffRowTable.Cell {
    func write(into html: inout HTML) {
        html.markup("<td")
        html.attribute("class", cssClass)
        if let ariaLabel { html.attribute("aria-label", ariaLabel) }
        html.markup(">")
        if unknown {
            html.markup("<span class=\"muted\">·</span>")
        } else if isNull {
            html.markup("<span class=\"null\">NULL</span>")
        } else {
            if let words {
                if truncated {
                    html.markup("<details class=\"long\"><summary>")
                    html.text(short ?? "")
                    html.markup("…</summary>")
                }
                for part in words {
                    if part.changed { html.markup(deleted ? "<del>" : "<ins>") }
                    html.text(part.text)
                    if part.changed { html.markup(deleted ? "</del>" : "</ins>") }
                }
                if truncated { html.markup("</details>") }
            } else {
                if deleted { html.markup("<del>") }
                if inserted { html.markup("<ins>") }
                if truncated {
                    html.markup("<details class=\"long\"><summary>")
                    html.text(short ?? "")
                    html.markup("…</summary>")
                    html.text(value ?? "")
                    html.markup("</details>")
                } else {
                    html.text(value ?? "")
                }
                if inserted { html.markup("</ins>") }
                if deleted { html.markup("</del>") }
            }
        }
        if hasPatch {
            html.markup("<ul class=\"json-patch\" aria-label=\"JSON changes\">")
            for operation in patch {
                html.markup("<li>")
                html.text(operation)
                html.markup("</li>")
            }
            html.markup("</ul>")
        }
        html.markup("</td>")
    }
}
