/// What `sql.mustache` shows: the editor, each statement's result grid with its column types,
/// the error with a caret under where it failed, the guards' refusals, a scratch run's row diff,
/// and the project's snippets and the user's history.
struct SQLEditorModel: Sendable {
    struct Column: Sendable {
        var name: String
        var type: String
    }

    struct Result: Sendable {
        var title: String
        var command: String
        var columns: [Column]
        var rows: [[TableGridModel.Cell]]
        var hasColumns: Bool
        var summary: String
        var notices: [String]
        var limited: Bool
        var truncated: Bool
    }

    struct Failure: Sendable {
        var message: String
        var code: String
        var hint: String?
        var statement: String?
        /// "line 3, column 14" when Postgres said where.
        var place: String?
        /// The failing line, then spaces (tabs kept) and `^` under the failing character.
        var excerpt: String?
    }

    struct Snippet: Sendable {
        var id: String
        var name: String
        var author: String
        var when: String
        var href: String
        var sql: String
        var folder: String = ""
    }

    /// Snippets filed under one folder name ("" first: those in none).
    struct Folder: Sendable {
        var name: String
        var snippets: [Snippet]
        var count: Int
        var filed: Bool

        init(name: String, snippets: [Snippet]) {
            self.name = name
            self.snippets = snippets
            count = snippets.count
            filed = !name.isEmpty
        }
    }

    struct DiffRow: Sendable {
        struct Cell: Sendable {
            var column: String
            var old: String?
            var new: String?
            var changed: Bool
        }

        var table: String
        var change: String
        var gutter: String
        var rowClass: String
        var key: String
        var detail: String
    }

    struct DiffTable: Sendable {
        var table: String
        var added: Int
        var removed: Int
        var changed: Int
    }

    struct Scratch: Sendable {
        var name: String
        var base: String
        var added: Int
        var removed: Int
        var changed: Int
        var schemaChanges: [String]
        var tables: [DiffTable]
        var rows: [DiffRow]
        var hasSchemaChanges: Bool
        var hasTables: Bool
        var hasRows: Bool
        var more: Bool
        var unchanged: Bool
        var applyAction: String
        var discardAction: String
        var needsConfirm: Bool
    }

    var project: String
    var branch: String
    var at: String?
    var mayRun: Bool
    var notice: String?
    /// A developer or owner: may write, keep snippets and run on a scratch branch.
    var mayWrite = false
    /// A viewer on the present: the SQL runs through the read-only `querySQL`.
    var viewerReadOnly = false
    var sql: String
    var confirm: Bool
    /// Whom the SQL runs as (developers and owners): the owner, anon, or a user.
    var runAs = RunAs()
    var runAsOptions: [RunAsOption] = []
    var runAsRole: String = ""
    var runsAsOther = false
    var action: String
    var scratchAllowed: Bool
    var results: [Result]
    var hasResults: Bool
    var ranOn: String?
    /// "as anon", "as authenticated user …" when the SQL ran as another role.
    var ranAs: String?
    var executed: String?
    var limitNotice: String?
    var refusal: [String]
    var refused: Bool
    /// EXPLAIN's trees, one per statement that has a plan, and why the others have none.
    var plans: [ExplainPlan] = []
    var hasPlans = false
    var skipped: [String] = []
    var failure: Failure?
    var scratch: Scratch?
    var flash: String?
    var snippets: [Snippet]
    var folders: [Folder] = []
    /// The folder names in use, for the save form's suggestions.
    var folderNames: [String] = []
    var snippetFolder = ""
    var history: [Snippet]
    var hasSnippets: Bool
    var hasHistory: Bool
    var snippetName: String
    var snippetID: String?
    var saveSnippetAction: String
    var deleteSnippetAction: String
    var cli: String
}

extension SQLEditorModel {
    /// Keeps the "Run as" choice in the form (developers and owners only).
    mutating func choose(_ runAs: RunAs) {
        self.runAs = mayWrite ? runAs : RunAs()
        runAsRole = self.runAs.role.rawValue
        runsAsOther = self.runAs.role != .owner
        runAsOptions = mayWrite ? RunAs.Role.allCases.map { RunAsOption(value: $0.rawValue, label: $0.label, selected: $0 == self.runAs.role) } : []
    }
}

/// One choice of the editor's "Run as" menu.
struct RunAsOption: Sendable {
    var value: String
    var label: String
    var selected: Bool
}
