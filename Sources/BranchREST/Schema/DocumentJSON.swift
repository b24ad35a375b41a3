import BranchCore
import Foundation

/// JSON as the agent documents write it: whole documents with sorted keys (stable bytes), and
/// small values in code examples as JSON, JavaScript or Python literals, keys in the order given.
enum DocumentJSON {
    /// The value's JSON text, keys sorted, `/` unescaped.
    static func bytes(_ value: JSONValue) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a JSONValue cannot fail: no non-finite number is ever put in one here.
        return (try? Array(encoder.encode(value))) ?? []
    }

    static func text(_ value: JSONValue) -> String { String(decoding: bytes(value), as: UTF8.self) }

    /// `{"a": 1, "b": "x"}` in the order given (JSON, and a JavaScript object literal too).
    static func object(_ pairs: [(String, JSONValue)]) -> String {
        "{" + pairs.map { DocumentNames.stringLiteral($0.0) + ": " + text($0.1) }.joined(separator: ", ") + "}"
    }

    /// `{"a": 1, "b": True}`: a Python dict literal in the order given.
    static func pythonObject(_ pairs: [(String, JSONValue)]) -> String {
        "{" + pairs.map { DocumentNames.stringLiteral($0.0) + ": " + python($0.1) }.joined(separator: ", ") + "}"
    }

    /// A Python literal of the value.
    static func python(_ value: JSONValue) -> String {
        switch value {
        case .bool(let flag): flag ? "True" : "False"
        case .null: "None"
        case .array(let items): "[" + items.map(python).joined(separator: ", ") + "]"
        case .object(let object): pythonObject(object.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        default: text(value)
        }
    }
}
