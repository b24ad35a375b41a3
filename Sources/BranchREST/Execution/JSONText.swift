import BranchCore

/// JSON text written by hand, for the few small documents Swift builds itself (error bodies, the
/// `request.headers` setting); everything else is built in Postgres.
package enum JSONText {
    /// `text` as a JSON string literal, quotes included.
    package static func string(_ text: String) -> String { JSONValue.stringLiteral(text) }

    /// A string literal, or `null`.
    static func optionalString(_ text: String?) -> String { text.map(string) ?? "null" }

    /// `{"a":"b",…}` of string pairs, in the order given.
    static func object(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { string($0.0) + ":" + string($0.1) }.joined(separator: ",") + "}"
    }
}
