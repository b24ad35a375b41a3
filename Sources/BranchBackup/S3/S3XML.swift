import Foundation
import NIOCore

// MARK: - XML

/// The few things read from S3's XML answers, found by tag: S3's documents are flat enough
/// that this is exact for the elements used (Key, UploadId, IsTruncated, NextContinuationToken,
/// Code, Message).
enum S3XML {
    /// The text of every `<tag>…</tag>`, entities decoded.
    static func values(of tag: String, in body: ByteBuffer) -> [String] {
        values(of: tag, in: String(buffer: body))
    }

    static func values(of tag: String, in text: String) -> [String] {
        var results: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "<\(tag)>"), let close = rest.range(of: "</\(tag)>", range: open.upperBound..<rest.endIndex) {
            results.append(unescape(rest[open.upperBound..<close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return results
    }

    /// The `<Error><Code>` and `<Message>` of an error body, nil when it is not one.
    static func error(in body: ByteBuffer) -> (code: String, message: String?)? {
        guard body.readableBytes > 0, body.readableBytes < 1 << 20 else { return nil }
        let text = String(buffer: body)
        guard text.contains("<Error>"), let code = values(of: "Code", in: text).first else { return nil }
        return (code, values(of: "Message", in: text).first)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static func unescape(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var out = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semicolon = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semicolon]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                let number = entity.hasPrefix("#x") ? UInt32(entity.dropFirst(2), radix: 16) : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                if let number, let scalar = Unicode.Scalar(number) { out.unicodeScalars.append(scalar) } else { out += "&\(entity);" }
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return out + rest
    }
}
