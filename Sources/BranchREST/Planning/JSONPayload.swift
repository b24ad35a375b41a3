/// The shape of a JSON request body, read without building its values: Postgres parses the text
/// itself (`json_to_recordset($1)`), so the planner only needs to know whether it is valid, an
/// object or an array, and which keys the objects have.
enum JSONPayload: Equatable {
    /// `{…}` with its keys, in order, duplicates removed.
    case object(keys: [String])
    /// `[…]`: for each element, its keys when it is an object, nil otherwise.
    case array([[String]?])
    /// A string, number, `true`, `false` or `null`.
    case scalar

    /// The body's shape, or 400 `PGRST102` when it is empty or not JSON.
    static func inspect(_ bytes: [UInt8]) throws(RESTError) -> JSONPayload {
        var reader = JSONShapeReader(bytes: bytes)
        guard let shape = reader.document() else { throw RESTError.invalidBody("Empty or invalid json") }
        return shape
    }
}

extension RESTError {
    /// 400 `PGRST102`: the request body cannot be used.
    static func invalidBody(_ message: String) -> RESTError {
        RESTError(status: 400, code: "PGRST102", message: message)
    }
}

/// A validating JSON reader (RFC 8259) that keeps only the keys of the top-level object or of the
/// top-level array's objects. Nesting is bounded so hostile input cannot exhaust the stack.
private struct JSONShapeReader {
    let bytes: [UInt8]
    var index = 0
    static let maximumDepth = 512

    /// A reader at the start of `bytes`.
    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The whole document, nil if it is not exactly one JSON value.
    mutating func document() -> JSONPayload? {
        skipWhitespace()
        guard index < bytes.count else { return nil }
        let shape: JSONPayload?
        switch bytes[index] {
        case UInt8(ascii: "{"):
            shape = objectKeys(depth: 1).map { .object(keys: $0) }
        case UInt8(ascii: "["):
            shape = arrayOfKeys()
        default:
            shape = value(depth: 1) ? .scalar : nil
        }
        skipWhitespace()
        return index == bytes.count ? shape : nil
    }

    /// `[…]` at the top: each element's keys when it is an object.
    private mutating func arrayOfKeys() -> JSONPayload? {
        index += 1
        var elements: [[String]?] = []
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return .array([]) }
        while true {
            skipWhitespace()
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "{") {
                guard let keys = objectKeys(depth: 2) else { return nil }
                elements.append(keys)
            } else {
                guard value(depth: 2) else { return nil }
                elements.append(nil)
            }
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            return consume(UInt8(ascii: "]")) ? .array(elements) : nil
        }
    }

    /// `{…}`: its keys in order of first appearance; nil when invalid.
    private mutating func objectKeys(depth: Int) -> [String]? {
        guard depth <= Self.maximumDepth, consume(UInt8(ascii: "{")) else { return nil }
        var keys: [String] = []
        var seen: Set<String> = []
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return keys }
        while true {
            skipWhitespace()
            guard let key = string() else { return nil }
            if seen.insert(key).inserted { keys.append(key) }
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            guard value(depth: depth + 1) else { return nil }
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            return consume(UInt8(ascii: "}")) ? keys : nil
        }
    }

    /// Any value, skipped; false when invalid.
    private mutating func value(depth: Int) -> Bool {
        guard depth <= Self.maximumDepth, index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            return objectKeys(depth: depth) != nil
        case UInt8(ascii: "["):
            index += 1
            skipWhitespace()
            if consume(UInt8(ascii: "]")) { return true }
            while true {
                skipWhitespace()
                guard value(depth: depth + 1) else { return false }
                skipWhitespace()
                if consume(UInt8(ascii: ",")) { continue }
                return consume(UInt8(ascii: "]"))
            }
        case UInt8(ascii: "\""):
            return string() != nil
        case UInt8(ascii: "t"):
            return literal("true")
        case UInt8(ascii: "f"):
            return literal("false")
        case UInt8(ascii: "n"):
            return literal("null")
        default:
            return number()
        }
    }

    /// A string with its escapes decoded; nil when invalid (raw control characters, bad escapes).
    private mutating func string() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        var scalars = String.UnicodeScalarView()
        var plainStart = index
        /// Appends the unescaped bytes before `end`; false when they are not UTF-8.
        func flushPlain(_ end: Int) -> Bool {
            guard plainStart < end else { return true }
            guard let text = String(validating: bytes[plainStart..<end], as: UTF8.self) else { return false }
            scalars.append(contentsOf: text.unicodeScalars)
            return true
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                guard flushPlain(index) else { return nil }
                index += 1
                return String(scalars)
            }
            if byte < 0x20 { return nil }
            if byte == UInt8(ascii: "\\") {
                guard flushPlain(index) else { return nil }
                index += 1
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    guard let scalar = unicodeEscape() else { return nil }
                    scalars.append(scalar)
                default:
                    return nil
                }
                plainStart = index
                continue
            }
            index += 1
        }
        return nil
    }

    /// The code point of `XXXX` after `\u` (and of a following low surrogate's escape).
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        guard let high = hexQuad() else { return nil }
        if (0xD800..<0xDC00).contains(high) {
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
            index += 2
            guard let low = hexQuad(), (0xDC00..<0xE000).contains(low) else { return nil }
            return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        }
        return Unicode.Scalar(high)
    }

    /// Four hexadecimal digits as a number.
    private mutating func hexQuad() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        index += 4
        return value
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    private mutating func number() -> Bool {
        _ = consume(UInt8(ascii: "-"))
        guard index < bytes.count, isDigit(bytes[index]) else { return false }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            skipDigits()
        }
        if consume(UInt8(ascii: ".")) {
            guard index < bytes.count, isDigit(bytes[index]) else { return false }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
            guard index < bytes.count, isDigit(bytes[index]) else { return false }
            skipDigits()
        }
        return true
    }

    /// `0`…`9`.
    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Past a run of digits.
    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    /// `true`, `false` or `null`, consumed when it is next.
    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = word.withUTF8Buffer { expected in bytes[index..<index + count].elementsEqual(expected) }
        if matches { index += count }
        return matches
    }

    /// Whether `byte` is next, consuming it if so.
    private mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// Past JSON's four whitespace characters.
    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }
}
