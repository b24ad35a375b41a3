import BranchCore
import BranchREST
import Foundation

/// JSON text put together from pieces that are already JSON (user objects built by Postgres are
/// spliced in as sent, byte for byte).
enum JSONText {
    /// A JSON string literal (the REST side's encoder: one for the whole data API).
    static func string(_ value: String) -> String { BranchREST.JSONText.string(value) }

    /// An object of already encoded values, keys in the order given.
    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// An array of already encoded values.
    static func array(_ items: [String]) -> String {
        "[" + items.joined(separator: ",") + "]"
    }

    /// A JSON value's text (sorted keys, as JWT claims are encoded).
    static func encode(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Only a non-finite number fails to encode, and JSON text never decodes to one.
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// Parses JSON text into a value (nil when it is not JSON).
    static func decode(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}
