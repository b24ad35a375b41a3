/// What `tables.mustache` shows: the table list, and the chosen table's page of rows.
struct TableGridModel: Sendable {
    struct TableLink: Sendable {
        var label: String
        var href: String
        var current: Bool
        var rows: String
    }

    struct ColumnHead: Sendable {
        var name: String
        var type: String
        var key: Bool
        var notNull: Bool
        var hasDefault: Bool
        var generated: Bool
        /// `schema.table.column` of a single-column foreign key.
        var references: String?
        /// An enum column's labels as a JSON array, for the cell editor's list.
        var options: String? = nil
        var sortHref: String
        /// "ascending", "descending" or "none" (`aria-sort`).
        var ariaSort: String
        var sortMark: String
        var sortLabel: String
    }

    struct Cell: Sendable {
        var column: String
        var value: String
        var isNull: Bool
        /// A foreign key's value: the referenced row in its table (same branch and instant).
        var jump: Jump? = nil
    }

    struct Jump: Sendable {
        var href: String
        var label: String
    }

    struct Row: Sendable {
        /// The primary key as JSON (`{"id":"1"}`), for the page's script.
        var keyJSON: String
        var editHref: String?
        /// The row's history across snapshots (developers: it reads through temporary branches).
        var historyHref: String?
        var cells: [Cell]
    }

    struct FilterChip: Sendable {
        var text: String
        var removeHref: String
    }

    struct Option: Sendable {
        var value: String
        var label: String
    }

    struct Grid: Sendable {
        var id: String
        var name: String
        var readOnly: Bool
        var editable: Bool
        var columns: [ColumnHead]
        /// The page of rows (`TableGridModel.html(_:)`).
        var rowsHTML: HTML
        var empty: Bool
        var shown: Int
        var nextHref: String?
        var previousHref: String?
        var firstHref: String?
        var filters: [FilterChip]
        var hasFilters: Bool
        var columnOptions: [Option]
        var operators: [Option]
        var sort: String?
        var keptFilters: [String]
        /// The instant the grid shows, kept by its forms.
        var at: String?
        var exportHref: String?
        var exportJSONHref: String?
        var importHref: String?
        var newRowHref: String?
        var saveURL: String
        var copyCommand: String
        var estimatedRows: String
    }

    /// The "as of" picker: the instant shown (nil: the present) and the way back to now.
    struct AsOf: Sendable {
        var at: String?
        var value: String
        var presentHref: String
        var table: String?
        var sort: String?
        var filters: [String]
    }

    var project: String
    var branch: String
    var mayWrite: Bool
    var asOf = AsOf(at: nil, value: "", presentHref: "", table: nil, sort: nil, filters: [])
    /// Why this user sees no data (a viewer: reading rows goes through SQL, which needs a developer).
    var notice: String?
    /// A viewer: rows are read through the read-only `querySQL`, with no editing controls.
    var viewerReadOnly = false
    var tables: [TableLink]
    var noTables: Bool
    var grid: Grid?
    var error: String?
}

// A page holds hundreds of cells: written in Swift (see `HTML`), not looked up by the template.
extension TableGridModel {
    /// The grid's body rows: a cell per column (a foreign key's with its jump and peek), then the
    /// row's edit and history links where it may be edited.
    static func html(_ rows: [Row]) -> HTML {
        var html = HTML()
        for row in rows {
            html.markup("  <tr")
            html.attribute("data-key", row.keyJSON)
            html.markup(">\n    ")
            for cell in row.cells {
                html.markup(cell.isNull ? "<td class=\"value null\"" : "<td class=\"value\"")
                html.attribute("data-col", cell.column)
                if cell.isNull { html.markup(" data-null=\"true\"") }
                if cell.jump != nil { html.attribute("data-value", cell.value) }
                html.markup(">")
                html.text(cell.value)
                if let jump = cell.jump {
                    html.markup(" <a class=\"fk-jump\"")
                    html.attribute("href", jump.href)
                    html.attribute("aria-label", jump.label)
                    html.attribute("title", jump.label)
                    html.markup(">↗</a><button type=\"button\" class=\"fk-peek ghost small\"")
                    html.attribute("data-peek", jump.href)
                    html.attribute("aria-label", "Peek: " + jump.label)
                    html.markup(" aria-haspopup=\"dialog\" hidden>peek</button>")
                }
                html.markup("</td>")
            }
            html.markup("\n    ")
            if let editHref = row.editHref {
                html.markup("<td class=\"row-actions\">")
                rowLink(&html, editHref, label: "Edit row \(row.keyJSON) in a form", "Edit")
                if let historyHref = row.historyHref {
                    html.markup(" ")
                    rowLink(&html, historyHref, label: "History of row \(row.keyJSON) across snapshots", "History")
                }
                html.markup("</td>")
            }
            html.markup("\n  </tr>")
        }
        return html
    }

    /// A row action's link (not prefetched: following it opens a temporary branch or a form).
    private static func rowLink(_ html: inout HTML, _ href: String, label: String, _ text: StaticString) {
        html.markup("<a")
        html.attribute("href", href)
        html.markup(" class=\"small\" data-no-prefetch")
        html.attribute("aria-label", label)
        html.markup(">")
        html.markup(text)
        html.markup("</a>")
    }
}
