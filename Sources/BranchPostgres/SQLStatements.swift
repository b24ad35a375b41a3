/// SQL text cut into statements the way Postgres' own lexer sees them: a `;` ends a statement
/// only outside quotes ('…', E'…', "…"), dollar quotes ($$…$$, $tag$…$tag$), comments (-- and
/// nested /* */) and the body of a `BEGIN ATOMIC … END` function. Used to say which statement
/// failed and where, and to refuse what cannot run inside a migration's transaction; the text
/// itself goes to Postgres unchanged.
package struct SQLStatements: Sendable, Equatable {
    /// One statement: its text (trimmed, without the `;`) and where it starts in the whole text.
    package struct Statement: Sendable, Equatable {
        package var text: String
        /// Offset of the statement's first character in the whole text (in Unicode code points,
        /// as Postgres counts an error's position).
        package var offset: Int
        /// 1-based line of its first character.
        package var line: Int
        /// The first words, upper-cased (`CREATE INDEX CONCURRENTLY`), for classification.
        package var leadingWords: [String]
    }

    package var statements: [Statement]

    /// Statements of `text`; empty ones (`;;`, comments alone) are left out, as Postgres skips them.
    package init(_ text: String) {
        statements = Self.split(Array(text.unicodeScalars))
    }

    /// The index of the statement containing 1-based character `position` of the whole text.
    package func statementIndex(atPosition position: Int) -> Int? {
        let offset = position - 1
        return statements.lastIndex { $0.offset <= offset }
    }

    // MARK: Splitting

    private static func split(_ characters: [Unicode.Scalar]) -> [Statement] {
        var result: [Statement] = []
        var index = 0
        var line = 1
        var start: Int?
        var startLine = 1
        // `BEGIN ATOMIC … END` nesting inside CREATE FUNCTION/PROCEDURE (CASE … END counts too).
        var atomicDepth = 0
        var words: [String] = []
        var currentWord = ""
        var previousWord = ""

        func endWord() {
            guard !currentWord.isEmpty else { return }
            let word = currentWord.uppercased()
            currentWord = ""
            if words.count < 8 { words.append(word) }
            let isRoutine = words.count >= 2 && words[0] == "CREATE"
                && (words.dropFirst().prefix(3).contains("FUNCTION") || words.dropFirst().prefix(3).contains("PROCEDURE"))
            guard isRoutine else { return }
            if word == "ATOMIC", previousWord == "BEGIN" { atomicDepth += 1 }
            if atomicDepth > 0, word == "CASE" { atomicDepth += 1 }
            if atomicDepth > 0, word == "END" { atomicDepth -= 1 }
            previousWord = word
        }

        func finish(at end: Int) {
            endWord()
            if let begin = start {
                var scalars = String.UnicodeScalarView()
                scalars.append(contentsOf: characters[begin..<end])
                let text = String(scalars).trimmingTrailingWhitespace()
                if !text.isEmpty {
                    result.append(Statement(text: text, offset: begin, line: startLine, leadingWords: Array(words.prefix(4))))
                }
            }
            start = nil
            words = []
            previousWord = ""
            atomicDepth = 0
        }

        func markStart() {
            if start == nil {
                start = index
                startLine = line
            }
        }

        while index < characters.count {
            let character = characters[index]
            let next = index + 1 < characters.count ? characters[index + 1] : nil
            switch character {
            case "-" where next == "-":
                endWord()
                while index < characters.count, characters[index] != "\n" { index += 1 }
                continue
            case "/" where next == "*":
                endWord()
                var depth = 0
                while index < characters.count {
                    if characters[index] == "/", index + 1 < characters.count, characters[index + 1] == "*" {
                        depth += 1
                        index += 2
                    } else if characters[index] == "*", index + 1 < characters.count, characters[index + 1] == "/" {
                        depth -= 1
                        index += 2
                        if depth == 0 { break }
                    } else {
                        if characters[index] == "\n" { line += 1 }
                        index += 1
                    }
                }
                continue
            case "'", "\"":
                endWord()
                markStart()
                // E'…' allows backslash escapes.
                let escapes = character == "'" && index > 0 && (characters[index - 1] == "E" || characters[index - 1] == "e")
                    && (index < 2 || !isWordCharacter(characters[index - 2]))
                index += 1
                while index < characters.count {
                    let inner = characters[index]
                    if inner == "\n" { line += 1 }
                    if escapes, inner == "\\" {
                        index += 2
                        continue
                    }
                    if inner == character {
                        if index + 1 < characters.count, characters[index + 1] == character {
                            index += 2
                            continue
                        }
                        break
                    }
                    index += 1
                }
                index += 1
                continue
            case "$":
                if let tag = dollarTag(characters, at: index), !(index > 0 && isWordCharacter(characters[index - 1])) {
                    endWord()
                    markStart()
                    index += tag.count
                    while index < characters.count {
                        if characters[index] == "$", characters[index...].starts(with: tag) {
                            index += tag.count
                            break
                        }
                        if characters[index] == "\n" { line += 1 }
                        index += 1
                    }
                    continue
                }
                markStart()
                currentWord.unicodeScalars.append(character)
            case ";":
                endWord()
                if atomicDepth > 0 {
                    index += 1
                    continue
                }
                finish(at: index)
            case "\n":
                endWord()
                line += 1
            default:
                if character.properties.isWhitespace {
                    endWord()
                } else {
                    markStart()
                    if isWordCharacter(character) {
                            currentWord.unicodeScalars.append(character)
                    } else {
                        endWord()
                    }
                }
            }
            index += 1
        }
        finish(at: characters.count)
        return result
    }

    /// `$tag$` starting at `index` (a tag is empty or an identifier not starting with a digit).
    private static func dollarTag(_ characters: [Unicode.Scalar], at index: Int) -> [Unicode.Scalar]? {
        var end = index + 1
        while end < characters.count, characters[end] != "$" {
            guard isWordCharacter(characters[end]), !(end == index + 1 && characters[end].properties.numericType != nil) else { return nil }
            end += 1
        }
        guard end < characters.count else { return nil }
        return Array(characters[index...end])
    }

    private static func isWordCharacter(_ character: Unicode.Scalar) -> Bool {
        character.properties.isAlphabetic || character.properties.numericType != nil || character == "_"
    }
}

extension SQLStatements.Statement {
    /// Why the statement cannot run inside a transaction block, or nil when it can.
    package var cannotRunInTransaction: String? {
        let words = leadingWords
        func starts(_ prefix: String...) -> Bool { words.starts(with: prefix) }
        if words.contains("CONCURRENTLY"), starts("CREATE") || starts("DROP") || starts("REINDEX") || starts("REFRESH") {
            return "\(words.prefix(2).joined(separator: " ")) … CONCURRENTLY cannot run inside a transaction block"
        }
        if starts("VACUUM") { return "VACUUM cannot run inside a transaction block" }
        if starts("CREATE", "DATABASE") || starts("DROP", "DATABASE") { return "\(words.prefix(2).joined(separator: " ")) cannot run inside a transaction block" }
        if starts("CREATE", "TABLESPACE") || starts("DROP", "TABLESPACE") { return "\(words.prefix(2).joined(separator: " ")) cannot run inside a transaction block" }
        if starts("ALTER", "SYSTEM") { return "ALTER SYSTEM cannot run inside a transaction block" }
        if starts("CREATE", "SUBSCRIPTION") || starts("DROP", "SUBSCRIPTION") { return "\(words.prefix(2).joined(separator: " ")) cannot run inside a transaction block" }
        if starts("CLUSTER") && words.count == 1 { return "CLUSTER without a table cannot run inside a transaction block" }
        return nil
    }

    /// Whether the statement begins, ends or abandons a transaction (`BEGIN`, `COMMIT`, …): a
    /// migration runs in a transaction of its own, so these would cut it in pieces.
    package var isTransactionControl: Bool {
        guard let first = leadingWords.first else { return false }
        switch first {
        case "BEGIN", "COMMIT", "END", "ABORT": return true
        case "START": return leadingWords.dropFirst().first == "TRANSACTION"
        case "ROLLBACK": return !leadingWords.contains("TO")
        case "PREPARE": return leadingWords.dropFirst().first == "TRANSACTION"
        default: return false
        }
    }

    /// Whether it is `BEGIN`/`START TRANSACTION`.
    package var beginsTransaction: Bool {
        leadingWords.first == "BEGIN" || leadingWords.starts(with: ["START", "TRANSACTION"])
    }

    /// Whether it is `COMMIT`/`END`.
    package var commitsTransaction: Bool { leadingWords.first == "COMMIT" || leadingWords.first == "END" }
}

extension String {
    fileprivate func trimmingTrailingWhitespace() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
