import BranchCore
import Foundation

/// One column value of a JSON export, typed by its column's Postgres type as PostgREST types it:
/// numbers and booleans as such, `json` and `jsonb` as the JSON they hold, NULL as null, and the
/// rest (dates, text, arrays, NaN) as strings.
enum JSONExport {
    enum Kind: Equatable {
        case number, boolean, json, text

        /// From `format_type` (`integer`, `numeric(8,2)`, `double precision`, `jsonb`, `text[]`, …).
        init(type: String) {
            let base = type.split(separator: "(").first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? type
            switch base {
            case "smallint", "integer", "bigint", "real", "double precision", "numeric", "decimal", "oid": self = .number
            case "boolean": self = .boolean
            case "json", "jsonb": self = .json
            default: self = .text
            }
        }
    }

    static func encode(_ value: String?, as kind: Kind) -> String {
        guard let value else { return "null" }
        switch kind {
        case .number where isJSONNumber(value): return value
        case .boolean where value == "true" || value == "t": return "true"
        case .boolean where value == "false" || value == "f": return "false"
        case .json where (try? JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)) != nil: return value
        default: return quoted(value)
        }
    }

    /// A JSON string literal, with `<` escaped too, so an export opened as a page can never start
    /// a tag (JSON escaping itself never writes a `<`).
    static func quoted(_ text: String) -> String {
        JSONValue.stringLiteral(text).replacingOccurrences(of: "<", with: "\\u003c")
    }

    /// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` (so not NaN, Infinity or `.5`).
    static func isJSONNumber(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        func digits() -> Int {
            let count = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        if bytes.first == 0x2D { bytes = bytes.dropFirst() }
        if bytes.first == 0x30 {
            bytes = bytes.dropFirst()
        } else if digits() == 0 {
            return false
        }
        if bytes.first == 0x2E {
            bytes = bytes.dropFirst()
            if digits() == 0 { return false }
        }
        if bytes.first == 0x65 || bytes.first == 0x45 {
            bytes = bytes.dropFirst()
            if bytes.first == 0x2B || bytes.first == 0x2D { bytes = bytes.dropFirst() }
            if digits() == 0 { return false }
        }
        return bytes.isEmpty
    }
}
