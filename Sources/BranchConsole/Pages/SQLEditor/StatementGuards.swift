import Foundation

/// The SQL editor's guards, applied on the server before anything runs: destructive statements
/// (DROP, TRUNCATE, ALTER … DROP, DELETE or UPDATE without WHERE) need the confirm box ticked,
/// and a bare SELECT without LIMIT gets `LIMIT 1000`, which the page says.
enum StatementGuards {
    static let automaticLimit = 1000

    struct Statement: Sendable, Equatable {
        /// The statement's text as written (without its `;`).
        var text: String
        /// Its words outside strings, quoted names and comments, upper-cased.
        var words: [String]
        /// Where it ends in the submitted text (a Character offset: its `;`, or the end, less trailing blanks).
        var end: Int = 0
    }

    /// The statements of `sql`, split at `;` outside strings, quoted names, dollar quotes and comments.
    static func split(_ sql: String) -> [Statement] {
        var statements: [Statement] = []
        var text = ""
        var words: [String] = []
        var word = ""
        let characters = Array(sql)
        var index = 0
        func endWord() {
            if !word.isEmpty { words.append(word.uppercased()) }
            word = ""
        }
        func endStatement() {
            endWord()
            var end = min(index, characters.count)
            while end > 0, characters[end - 1].isWhitespace { end -= 1 }
            if !words.isEmpty { statements.append(Statement(text: text.trimmingCharacters(in: .whitespacesAndNewlines), words: words, end: end)) }
            text = ""
            words = []
        }
        while index < characters.count {
            let character = characters[index]
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            switch character {
            case "-" where next == "-":
                endWord()
                while index < characters.count, characters[index] != "\n" { text.append(characters[index]); index += 1 }
                continue
            case "/" where next == "*":
                endWord()
                var depth = 0
                repeat {
                    if characters[index] == "/", index + 1 < characters.count, characters[index + 1] == "*" { depth += 1; text += "/*"; index += 2; continue }
                    if characters[index] == "*", index + 1 < characters.count, characters[index + 1] == "/" { depth -= 1; text += "*/"; index += 2; continue }
                    text.append(characters[index])
                    index += 1
                } while index < characters.count && depth > 0
                continue
            case "'", "\"":
                endWord()
                text.append(character)
                index += 1
                while index < characters.count {
                    text.append(characters[index])
                    if characters[index] == character {
                        if index + 1 < characters.count, characters[index + 1] == character { text.append(character); index += 2; continue }
                        index += 1
                        break
                    }
                    index += 1
                }
                words.append(character == "'" ? "'…'" : "\"…\"")
                continue
            case "$":
                // A dollar quote: $$…$$ or $tag$…$tag$.
                var end = index + 1
                while end < characters.count, characters[end].isLetter || characters[end].isNumber || characters[end] == "_" { end += 1 }
                if end < characters.count, characters[end] == "$", word.isEmpty, !(characters[(index + 1)...].first?.isNumber ?? false) {
                    endWord()
                    let tag = String(characters[index...end])
                    text += tag
                    index = end + 1
                    while index < characters.count {
                        if characters[index] == "$", String(characters[index..<min(characters.count, index + tag.count)]) == tag {
                            text += tag
                            index += tag.count
                            break
                        }
                        text.append(characters[index])
                        index += 1
                    }
                    words.append("$…$")
                    continue
                }
                word.append(character)
            case ";":
                endStatement()
                index += 1
                continue
            default:
                if character.isLetter || character.isNumber || character == "_" {
                    word.append(character)
                } else {
                    endWord()
                    if !character.isWhitespace { words.append(String(character)) }
                }
            }
            text.append(character)
            index += 1
        }
        endStatement()
        return statements
    }

    /// Why `statement` is destructive, or nil.
    static func destructive(_ statement: Statement) -> String? {
        let words = statement.words
        guard let first = words.first else { return nil }
        switch first {
        case "DROP": return "DROP removes \(words.dropFirst().prefix(1).joined().lowercased()) and its data"
        case "TRUNCATE": return "TRUNCATE removes every row"
        case "ALTER" where words.contains("DROP"): return "ALTER … DROP removes part of the schema"
        default: break
        }
        // The statement's verb, or a data-changing CTE's.
        for verb in ["DELETE", "UPDATE"] where (first == verb || (first == "WITH" && words.contains(verb))) && !words.contains("WHERE") {
            return "\(verb) without WHERE changes every row"
        }
        return nil
    }

    /// A bare SELECT (not SELECT … INTO, not a locking read) without LIMIT or FETCH: it gets `LIMIT 1000`.
    static func needsLimit(_ statement: Statement) -> Bool {
        let words = statement.words
        guard words.first == "SELECT" || (words.first == "WITH" && words.contains("SELECT") && !words.contains { ["INSERT", "UPDATE", "DELETE", "MERGE"].contains($0) }) else {
            return false
        }
        return !words.contains("LIMIT") && !words.contains("FETCH") && !words.contains("INTO") && !words.contains("FOR")
            && !words.contains("OFFSET")
    }

    /// Whether EXPLAIN takes `statement`: a query, a data change, EXECUTE, or CREATE [TEMP |
    /// UNLOGGED] TABLE … AS and CREATE MATERIALIZED VIEW … AS followed by a query (not a view, a
    /// function, nor a column's GENERATED … AS).
    static func explainable(_ statement: Statement) -> Bool {
        let words = statement.words
        switch words.first {
        case "SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE", "EXECUTE": return true
        case "CREATE":
            let kind = Array(words.dropFirst().prefix(2))
            guard kind.first == "TABLE" || kind == ["MATERIALIZED", "VIEW"] || (["TEMP", "TEMPORARY", "UNLOGGED"].contains(kind.first ?? "") && kind.last == "TABLE")
            else { return false }
            return words.indices.contains { index in
                words[index] == "AS" && index + 1 < words.count && ["SELECT", "WITH", "VALUES", "TABLE", "EXECUTE"].contains(words[index + 1])
            }
        default: return false
        }
    }

    /// Statements an explained script keeps as they are, since later statements may need them.
    static func keptWhenExplaining(_ statement: Statement) -> Bool {
        ["SET", "PREPARE"].contains(statement.words.first ?? "")
    }

    /// The text added after each bare SELECT (on its own line, so a trailing `--` comment cannot swallow it).
    static let limitClause = "\nLIMIT \(automaticLimit)"

    /// `sql` with `LIMIT 1000` after each bare SELECT, the 0-based indices of those statements, and
    /// where the clause went in `sql` (Character offsets), to map error positions back.
    static func limited(_ sql: String) -> (sql: String, limited: [Int], insertions: [Int]) {
        let statements = split(sql)
        let indices = statements.indices.filter { needsLimit(statements[$0]) }
        guard !indices.isEmpty else { return (sql, [], []) }
        let insertions = indices.map { statements[$0].end }
        var characters = Array(sql)
        for offset in insertions.reversed() { characters.insert(contentsOf: limitClause, at: offset) }
        return (String(characters), indices, insertions)
    }

    /// A 1-based position in the limited text as a position in the submitted text (inside an
    /// added clause: where it was added).
    static func originalPosition(_ position: Int, insertions: [Int]) -> Int {
        let length = limitClause.count
        var shift = 0
        let offset = position - 1
        for insertion in insertions.sorted() {
            if offset >= insertion + shift + length {
                shift += length
            } else if offset >= insertion + shift {
                return insertion + 1
            } else {
                break
            }
        }
        return offset - shift + 1
    }
}
