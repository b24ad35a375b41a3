package import Foundation

/// A plain-text (or HTML) message, rendered for the DATA command: headers (a subject outside ASCII encoded
/// per RFC 2047), a UTF-8 body in base64 (safe through any relay, no 8BITMIME needed), CRLF line
/// ends and the dot-stuffing SMTP requires.
package struct MailMessage: Sendable, Equatable {
    package var from: String
    package var to: [String]
    package var subject: String
    package var body: String
    /// Whether `body` is HTML (`text/html`), else plain text.
    package var html: Bool
    package var date: Date

    package init(from: String, to: [String], subject: String, body: String, html: Bool = false, date: Date = Date()) {
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.html = html
        self.date = date
    }

    /// An address as SMTP needs it: no spaces, brackets or line breaks, one `@`.
    package static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        let forbidden = CharacterSet(charactersIn: "<>\r\n \t,;\"")
        return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty && text.rangeOfCharacter(from: forbidden) == nil
    }

    /// The message for DATA, ending with the terminating `.` line.
    package func rendered(messageID: String) -> String {
        let headers = [
            "From: \(from)",
            "To: \(to.joined(separator: ", "))",
            "Subject: \(Self.encodedHeader(subject))",
            "Date: \(Self.dateFormatter().string(from: date))",
            "Message-ID: <\(messageID)>",
            "MIME-Version: 1.0",
            "Content-Type: \(html ? "text/html" : "text/plain"); charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "Auto-Submitted: auto-generated",
        ]
        let encoded = Data(body.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        let lines = headers + [""] + encoded.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        return lines.map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n") + "\r\n.\r\n"
    }

    /// `text` as is when it is printable ASCII, else RFC 2047's `=?UTF-8?B?…?=`; line breaks become spaces.
    package static func encodedHeader(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if flat.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) { return flat }
        return "=?UTF-8?B?\(Data(flat.utf8).base64EncodedString())?="
    }

    /// RFC 5322's date format, in UTC (a new formatter each time: one message per alert).
    private static func dateFormatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter
    }
}
