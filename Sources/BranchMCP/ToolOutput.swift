package import Foundation
package import MCP

/// What a tool answers on success: the API's answer as JSON text (what models read) and the same
/// object as structured content (what programs read), or plain text for a document that is not
/// JSON (the agent brief).
package enum ToolOutput {
    /// `value` (an API answer, as generated from the OpenAPI document) as JSON text and as
    /// structured content; past `structuredLimit` bytes (a large query result), as text only, so
    /// the answer is not sent twice.
    package static func json(encoding value: some Encodable) throws -> CallTool.Result {
        let data = try encoder.encode(value)
        let text = String(decoding: data, as: UTF8.self)
        guard data.count <= structuredLimit else { return CallTool.Result(content: [.text(text: text, annotations: nil, _meta: nil)]) }
        return result(text: text, structured: try PlainJSON.value(from: data))
    }

    /// The largest answer also sent as structured content.
    static let structuredLimit = 1 << 20

    /// A JSON object already in hand, as JSON text and as structured content.
    package static func object(_ value: Value) -> CallTool.Result {
        result(text: jsonText(value), structured: value)
    }

    /// A result of `text` and `structured` content. (The SDK's initializer that takes a `Value`
    /// is the generic one that can throw; with a `Value` it only unwraps it, so it cannot fail.)
    static func result(text: String, structured: Value, isError: Bool? = nil) -> CallTool.Result {
        let content: [Tool.Content] = [.text(text: text, annotations: nil, _meta: nil)]
        return (try? CallTool.Result(content: content, structuredContent: structured, isError: isError))
            ?? CallTool.Result(content: content, isError: isError)
    }

    /// Text as it is (Markdown).
    package static func text(_ text: String) -> CallTool.Result {
        CallTool.Result(content: [.text(text: text, annotations: nil, _meta: nil)], isError: nil)
    }

    /// A value as compact JSON text with sorted keys.
    package static func jsonText(_ value: Value) -> String {
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// The API's encoding: ISO 8601 dates, sorted keys, slashes as they are.
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// JSON read into an MCP `Value` exactly as it is. `Value`'s own decoding turns any string that
/// looks like a `data:` URL into binary data, which would change a row's text on the way through.
package struct PlainJSON: Decodable {
    package let value: Value

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            value = .null
        } else if let bool = try? container.decode(Bool.self) {
            value = .bool(bool)
        } else if let int = try? container.decode(Int.self) {
            value = .int(int)
        } else if let double = try? container.decode(Double.self) {
            value = .double(double)
        } else if let string = try? container.decode(String.self) {
            value = .string(string)
        } else if let array = try? container.decode([PlainJSON].self) {
            value = .array(array.map(\.value))
        } else {
            value = .object(try container.decode([String: PlainJSON].self).mapValues(\.value))
        }
    }

    /// The JSON document in `data`.
    package static func value(from data: Data) throws -> Value {
        try JSONDecoder().decode(PlainJSON.self, from: data).value
    }
}
