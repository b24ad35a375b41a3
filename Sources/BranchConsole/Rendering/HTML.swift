import Mustache

/// Markup written in Swift, for the few loops Mustache renders too slowly (a grid's hundreds of
/// cells, each a dozen lookups that cast every object on the context stack). Markup can only be
/// a string literal of this source (`StaticString`); everything else goes in through `text`,
/// which escapes it. A template prints it with `{{{nameHTML}}}`, the one unescaped form allowed
/// (ConsoleTemplateTests), and only a value of this type reaches such a name (`TemplateValues`).
struct HTML: Sendable, Equatable, MustacheCustomRenderable {
    private(set) var renderText = ""

    var isNull: Bool { false }

    /// Literal markup.
    mutating func markup(_ literal: StaticString) {
        renderText += literal.description
    }

    /// Text or an attribute's value (always written in double quotes), escaped.
    mutating func text(_ value: String) {
        HTML.escape(value, into: &renderText)
    }

    mutating func text(_ value: Int) {
        renderText += String(value)
    }

    /// `name="value"` with a space before it, the value escaped.
    mutating func attribute(_ name: StaticString, _ value: String) {
        renderText += " "
        renderText += name.description
        renderText += "=\""
        text(value)
        renderText += "\""
    }

    /// What Mustache's `{{value}}` writes (`&<>"'`), byte by byte: runs without them are copied
    /// whole.
    static func escape(_ value: String, into output: inout String) {
        var value = value
        value.withUTF8 { bytes in
            var runStart = 0
            for index in bytes.indices {
                let replacement: String
                switch bytes[index] {
                case UInt8(ascii: "&"): replacement = "&amp;"
                case UInt8(ascii: "<"): replacement = "&lt;"
                case UInt8(ascii: ">"): replacement = "&gt;"
                case UInt8(ascii: "\""): replacement = "&quot;"
                case UInt8(ascii: "'"): replacement = "&#39;"
                default: continue
                }
                if runStart < index { output += String(decoding: UnsafeBufferPointer(rebasing: bytes[runStart..<index]), as: UTF8.self) }
                output += replacement
                runStart = index + 1
            }
            if runStart < bytes.count { output += String(decoding: UnsafeBufferPointer(rebasing: bytes[runStart...]), as: UTF8.self) }
        }
    }
}
