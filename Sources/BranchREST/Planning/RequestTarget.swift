/// What a `/rest/v1` path names.
enum RequestTarget: Equatable {
    /// `/`: the schema document.
    case root
    /// `/{relation}`.
    case relation(String)
    /// `/rpc/{function}`.
    case function(String)

    /// The target of `path` (percent-decoded segments); 404 `PGRST125` for any other shape.
    init(path: String) throws(RESTError) {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).map { Self.percentDecoded($0) }
        switch segments.count {
        case 0: self = .root
        case 1: self = .relation(segments[0])
        case 2 where segments[0] == "rpc": self = .function(segments[1])
        default: throw RESTError(status: 404, code: "PGRST125", message: "Invalid path specified in request URL")
        }
    }

    /// `%XX` decoded (a `+` stays a `+` in a path); malformed escapes kept as written.
    static func percentDecoded(_ text: Substring) -> String {
        let bytes = Array(text.utf8)
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(bytes[index])
                index += 1
            }
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
