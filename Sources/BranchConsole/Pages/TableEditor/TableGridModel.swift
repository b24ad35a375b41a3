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
        var rows: [Row]
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
