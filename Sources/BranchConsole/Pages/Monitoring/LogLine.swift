import Foundation

/// One line of a branch server's log (`log_line_prefix = '%m [%p] %q%u@%d '`), with the level
/// and the component (the session's user, or `server` for the postmaster's own lines) the page
/// filters on.
struct LogLine: Sendable, Equatable {
    var text: String
    var level: String
    var component: String

    static let levels = ["DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "LOG", "FATAL", "PANIC", "DETAIL", "HINT", "STATEMENT", "CONTEXT"]

    init(_ text: String) {
        self.text = text
        let words = text.split(separator: " ", maxSplits: 6, omittingEmptySubsequences: true).map(String.init)
        let levelIndex = words.firstIndex { word in
            word.hasSuffix(":") && (Self.levels.contains(String(word.dropLast())) || word.hasPrefix("DEBUG"))
        }
        level = levelIndex.map { String(words[$0].dropLast()) } ?? "LOG"
        // `user@database` stands right before the level; the postmaster's own lines have none.
        let prefix = levelIndex.map { words[..<$0] } ?? []
        let user = prefix.last { $0.contains("@") }?.split(separator: "@", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        component = user.isEmpty ? "server" : user
    }

    /// The filters in the URL: `level` (exact, or empty), `component` (exact, or empty), `q` (case-insensitive substring).
    struct Filter: Sendable {
        var level: String
        var component: String
        var search: String

        func matches(_ line: LogLine) -> Bool {
            (level.isEmpty || line.level == level) && (component.isEmpty || line.component == component)
                && (search.isEmpty || line.text.localizedCaseInsensitiveContains(search))
        }

        var query: String {
            [("level", level), ("component", component), ("q", search)].filter { !$0.1.isEmpty }
                .map { "\($0.0)=\(FormFields.encode($0.1))" }.joined(separator: "&")
        }
    }
}
