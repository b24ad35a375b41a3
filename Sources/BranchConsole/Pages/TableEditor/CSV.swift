import Foundation

/// CSV as Postgres' `COPY … CSV` writes and reads it: fields quoted when they need it, an empty
/// unquoted field is NULL and `""` is the empty string.
enum CSV {
    /// One record, ending with CRLF.
    static func line(_ fields: [String?]) -> String {
        fields.map { field -> String in
            guard let field else { return "" }
            if field.isEmpty { return "\"\"" }
            let needsQuotes = field.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" } || field.first == " " || field.last == " "
                || field == "\\."
            return needsQuotes ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
        }.joined(separator: ",") + "\r\n"
    }

    struct Malformed: Error {
        var line: Int
    }

    /// The records of `text` (blank lines skipped); NULL for empty unquoted fields.
    static func parse(_ text: String) throws -> [[String?]] {
        var records: [[String?]] = []
        var record: [String?] = []
        var field = ""
        var quoted = false
        var inQuotes = false
        var line = 1
        var characters = Array(text)
        if characters.first == "\u{FEFF}" { characters.removeFirst() }
        var index = 0
        func endField() {
            record.append(field.isEmpty && !quoted ? nil : field)
            field = ""
            quoted = false
        }
        func endRecord() {
            endField()
            if !(record.count == 1 && record[0] == nil) { records.append(record) }
            record = []
        }
        while index < characters.count {
            let character = characters[index]
            index += 1
            if inQuotes {
                if character == "\"" {
                    if index < characters.count, characters[index] == "\"" {
                        field.append("\"")
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if character == "\n" || character == "\r\n" { line += 1 }
                    field.append(character)
                }
                continue
            }
            switch character {
            case "\"":
                guard field.isEmpty else { throw Malformed(line: line) }
                inQuotes = true
                quoted = true
            case ",": endField()
            case "\n", "\r\n", "\r":
                endRecord()
                line += 1
            default: field.append(character)
            }
        }
        guard !inQuotes else { throw Malformed(line: line) }
        if !field.isEmpty || quoted || !record.isEmpty { endRecord() }
        return records
    }
}
