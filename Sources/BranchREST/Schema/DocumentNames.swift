import Foundation

/// Names as the agent documents write them: URL path segments, OpenAPI component keys, query
/// strings, and comments split into a summary and the rest.
enum DocumentNames {
    /// Characters a path segment keeps as they are; others are percent-encoded (`{` and `}` would
    /// otherwise read as an OpenAPI path template).
    static let segmentCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@")

    /// Characters a query string value keeps as they are (PostgREST's syntax characters included).
    static let queryCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$'()*,;:@/")

    static func pathSegment(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: segmentCharacters) ?? name
    }

    static func queryValue(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: queryCharacters) ?? text
    }

    /// `key=value&…`, each part encoded for a query string.
    static func query(_ pairs: [(String, String)]) -> String {
        pairs.map { queryValue($0.0) + "=" + queryValue($0.1) }.joined(separator: "&")
    }

    /// Query keys PostgREST reserves: a column of that name cannot be filtered by name.
    static let reservedQueryKeys: Set<String> = ["select", "order", "limit", "offset", "on_conflict", "columns", "or", "and", "apikey"]

    /// The columns a query string can filter on.
    static func filterableColumns(_ relation: Relation) -> [Column] {
        relation.columns.filter { !reservedQueryKeys.contains($0.name) && !$0.name.hasPrefix("not.") }
    }

    /// A comment's first line, and the rest without leading newlines (nil when empty).
    static func split(_ comment: String?) -> (summary: String?, rest: String?) {
        guard let comment, !comment.isEmpty else { return (nil, nil) }
        guard let newline = comment.firstIndex(of: "\n") else { return (comment, nil) }
        let rest = comment[newline...].drop { $0 == "\n" }
        return (String(comment[..<newline]), rest.isEmpty ? nil : String(rest))
    }

    /// Unique OpenAPI component keys (`^[A-Za-z0-9._-]+$`) for names that may hold any character:
    /// others become `_`, and a key already taken gets `_2`, `_3`…
    struct ComponentKeys {
        private var taken: Set<String>
        private var keys: [String: String] = [:]

        init(reserved: Set<String>) { taken = reserved }

        /// The key `name` got, if it got one.
        func existingKey(for name: String) -> String? { keys[name] }

        mutating func key(for name: String) -> String {
            if let key = keys[name] { return key }
            var base = String(name.unicodeScalars.map { scalar in
                scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar)) ? Character(scalar) : "_"
            })
            if base.isEmpty { base = "_" }
            var key = base
            var suffix = 2
            while taken.contains(key) {
                key = "\(base)_\(suffix)"
                suffix += 1
            }
            taken.insert(key)
            keys[name] = key
            return key
        }
    }

    /// A string as a single-quoted shell word.
    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// A string as a JavaScript or Python string literal (double-quoted, JSON escaping).
    static func stringLiteral(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(text), as: UTF8.self)) ?? "\"\""
    }

    /// Text inside a markdown code span: backticks cannot be escaped there, so a span with
    /// backticks gets a longer fence.
    static func code(_ text: String) -> String {
        guard text.contains("`") else { return "`\(text)`" }
        return "`` \(text) ``"
    }

    /// Runs of whitespace (newlines included, as `pg_get_expr` writes subqueries) as one space.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ").replacingOccurrences(of: "( ", with: "(")
    }

    /// Text in a markdown table cell: no line breaks, `|` escaped.
    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "\\|")
    }
}
