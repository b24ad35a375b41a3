/// Form-style query-string decoding, as PostgREST does it (`URLComponents.queryItems` keeps `+`,
/// which clients send for spaces, so it cannot be used).
package enum FormQuery {
    /// form decoding: '+' is a space, then percent-decoding; keys repeat, order kept; a key without '=' has value "".
    /// Malformed escapes (`%4`, `%zz`) stay as written; bytes that are not UTF-8 become U+FFFD.
    package static func pairs(_ rawQuery: String) -> [(key: String, value: String)] {
        rawQuery.split(separator: "&", omittingEmptySubsequences: true).map { field in
            guard let equals = field.firstIndex(of: "=") else { return (decode(field), "") }
            return (decode(field[..<equals]), decode(field[field.index(after: equals)...]))
        }
    }

    /// `+` to space (unless `plusIsSpace` is false, as in a path), then `%XX` to the byte it names.
    static func decode(_ text: Substring, plusIsSpace: Bool = true) -> String {
        let bytes = Array(text.utf8)
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if plusIsSpace, byte == UInt8(ascii: "+") {
                decoded.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                decoded.append(high << 4 | low)
                index += 2
            } else {
                decoded.append(byte)
            }
            index += 1
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    /// The value of one hexadecimal digit.
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
