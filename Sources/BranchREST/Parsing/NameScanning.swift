/// The lexical pieces every PostgREST parameter shares: field names, quoted values, JSON paths.
extension TextScanner {
    /// A character of an unquoted identifier: a letter, a digit, `_`, `$` or a space (trimmed after).
    static func isIdentifierCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_" || character == "$" || character == " "
    }

    /// Letters, digits, `_`, `$` and spaces, trimmed; fails when there is none.
    mutating func identifier(_ expecting: String = "identifier") throws(RESTError) -> String {
        let start = index
        let text = read(while: Self.isIdentifierCharacter).trimmingSpaces
        guard !text.isEmpty else {
            index = start
            throw failure(expecting: expecting)
        }
        return text
    }

    /// `"…"` with `\"` and `\\` escapes, or nil (position unchanged) when no quoted value starts here.
    mutating func quotedValue() -> String? {
        let start = index
        guard consume("\"") else { return nil }
        var value = ""
        while let next = peek {
            index += 1
            switch next {
            case "\"":
                return value
            case "\\":
                guard let escaped = peek else { index = start; return nil }
                value.append(escaped)
                index += 1
            default:
                value.append(next)
            }
        }
        index = start
        return nil
    }

    /// A column, relation or alias name: `"quoted name"`, or identifiers joined by `-` (`first-name`,
    /// but not the `-` of `->`).
    mutating func fieldName() throws(RESTError) -> String {
        if let quoted = quotedValue() { return quoted }
        let expecting = "field name (* or [a..z0..9_$])"
        var parts = [try identifier(expecting)]
        while peek == "-", peek(offset: 1) != ">" {
            index += 1
            parts.append(try identifier(expecting))
        }
        return parts.joined(separator: "-")
    }

    /// `->key`, `->>key`, `->0`, `->>-1`, repeated; empty when no arrow follows.
    mutating func jsonPath() throws(RESTError) -> [FieldPath.Step] {
        var steps: [FieldPath.Step] = []
        while hasPrefix("->") {
            let arrow: FieldPath.Arrow
            if consume("->>") {
                arrow = .text
            } else {
                index += 2
                arrow = .json
            }
            if consume("-") {
                let digits = read(while: \.isASCIIDigit)
                guard !digits.isEmpty else { throw failure(expecting: "digit") }
                steps.append(.init(arrow, "-" + digits))
            } else {
                steps.append(.init(arrow, try fieldName()))
            }
        }
        return steps
    }

    /// A column and its JSON path, spaces around it skipped.
    mutating func field() throws(RESTError) -> FieldPath {
        skipSpaces()
        let column = try fieldName()
        let path = try jsonPath()
        skipSpaces()
        return FieldPath(column, jsonPath: path)
    }
}

extension Character {
    /// `0`…`9` only (`isNumber` also accepts other scripts' digits and fractions).
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
