/// One reply of the server: its three-digit code and its text lines (`250-PIPELINING`,
/// `250 AUTH PLAIN LOGIN` make one reply with two lines).
package struct SMTPReply: Sendable, Equatable {
    package var code: Int
    package var lines: [String]

    package init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines
    }

    package var isPositive: Bool { (200..<400).contains(code) }
    package var text: String { lines.joined(separator: " ") }

    /// EHLO's extensions, upper-cased keywords with their parameters (`AUTH` → `["PLAIN", "LOGIN"]`);
    /// the first line is the server's greeting, not an extension.
    package var extensions: [String: [String]] {
        var result: [String: [String]] = [:]
        for line in lines.dropFirst() {
            let words = line.split(separator: " ").map(String.init)
            guard let keyword = words.first else { continue }
            result[keyword.uppercased()] = words.dropFirst().map { $0.uppercased() }
        }
        return result
    }
}

/// Assembles replies from the lines the server sends, as they arrive.
package struct SMTPReplyAssembler: Sendable {
    private var code: Int?
    private var lines: [String] = []

    package init() {}

    /// Takes one line (without its CRLF); returns the reply it completes, if any.
    package mutating func feed(_ line: String) throws(SMTPError) -> SMTPReply? {
        let characters = Array(line)
        guard characters.count >= 3, let code = Int(String(characters[0..<3])), (200...599).contains(code) else {
            throw SMTPError(.rejected, "The server sent something that is not an SMTP reply.")
        }
        let separator = characters.count > 3 ? characters[3] : " "
        guard separator == " " || separator == "-" else {
            throw SMTPError(.rejected, "The server sent something that is not an SMTP reply.")
        }
        if let current = self.code, current != code {
            throw SMTPError(.rejected, "The server changed reply codes within one reply (\(current), then \(code)).")
        }
        self.code = code
        lines.append(characters.count > 4 ? String(characters[4...]) : "")
        guard separator == " " else { return nil }
        defer {
            self.code = nil
            lines = []
        }
        return SMTPReply(code: code, lines: lines)
    }
}
