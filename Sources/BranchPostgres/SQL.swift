/// Quoting for the few statements Branch composes itself.
package enum SQL {
    /// `name` as a quoted identifier: `my-app` → `"my-app"`.
    package static func identifier(_ name: String) -> String {
        guard name.utf8.contains(UInt8(ascii: "\"")) else { return "\"" + name + "\"" }
        return "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `text` as a string literal: `it's` → `'it''s'`. Backslashes are plain (standard_conforming_strings).
    package static func literal(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "'")) else { return "'" + text + "'" }
        return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// `items` as a `text[]` input value for a query parameter: `["a", "b\"c"]` → `{"a","b\"c"}`.
    package static func textArray(_ items: [String]) -> String {
        let elements = items.map { item in
            "\"" + item.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return "{" + elements.joined(separator: ",") + "}"
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
