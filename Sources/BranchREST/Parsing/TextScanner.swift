/// A cursor over the characters of one query-string value, shared by the parsers of this folder.
/// It knows what it is parsing (`filter (eq.x)`) so that a failure reads like PostgREST's:
/// `"failed to parse filter (eq.x)" (line 1, column 4)` with `unexpected … expecting …` as details.
struct TextScanner {
    let characters: [Character]
    /// What is parsed and its input, as in the error message: `filter (noop.0)`.
    let subject: String
    var index = 0
    /// How many `(…)` of a logic tree or embed enclose the position (see `enterNesting`).
    var depth = 0

    /// The deepest `(…)` a logic tree or `select` may nest: far more than any real query, few enough
    /// that the recursive parsers (and the planner after them) stay well within a thread's stack,
    /// where an 80 KB URL of `a(a(a(…` would otherwise overflow it and take the server down.
    static let maxDepth = 100

    init(_ text: String, parsing what: String) {
        characters = Array(text)
        subject = "\(what) (\(text))"
    }

    /// Whether every character has been read.
    var isAtEnd: Bool { index >= characters.count }

    /// The next character, if any.
    var peek: Character? { isAtEnd ? nil : characters[index] }

    /// The character after the next one, if any.
    func peek(offset: Int) -> Character? {
        index + offset < characters.count ? characters[index + offset] : nil
    }

    /// Whether the input continues with `text`.
    func hasPrefix(_ text: String) -> Bool {
        var position = index
        for character in text {
            guard position < characters.count, characters[position] == character else { return false }
            position += 1
        }
        return true
    }

    /// Skips `text` when the input continues with it.
    mutating func consume(_ text: String) -> Bool {
        guard hasPrefix(text) else { return false }
        index += text.count
        return true
    }

    /// Skips `character` when it is next.
    mutating func consume(_ character: Character) -> Bool {
        guard peek == character else { return false }
        index += 1
        return true
    }

    /// Reads `character` or fails, naming it (or `expecting`) as what was expected.
    mutating func expect(_ character: Character, expecting: String? = nil) throws(RESTError) {
        guard consume(character) else { throw failure(expecting: expecting ?? "\"\(character)\"") }
    }

    /// Reads characters while `predicate` holds.
    mutating func read(while predicate: (Character) -> Bool) -> String {
        let start = index
        while let next = peek, predicate(next) { index += 1 }
        return String(characters[start..<index])
    }

    /// Skips spaces and tabs, which PostgREST tolerates around separators.
    mutating func skipSpaces() {
        while peek == " " || peek == "\t" { index += 1 }
    }

    /// One `(…)` deeper, failing past `maxDepth`; the caller pairs it with `defer { depth -= 1 }`.
    mutating func enterNesting() throws(RESTError) {
        depth += 1
        guard depth <= Self.maxDepth else { throw failure(details: "nested deeper than \(Self.maxDepth) levels") }
    }

    /// Fails unless every character has been read.
    func expectEnd(_ expecting: String = "end of input") throws(RESTError) {
        guard isAtEnd else { throw failure(expecting: expecting) }
    }

    /// A PGRST100 error at the current position: `unexpected <next character> expecting <expecting>`.
    func failure(expecting: String) -> RESTError {
        let found = peek.map { "\"\($0)\"" } ?? "end of input"
        return failure(details: "unexpected \(found) expecting \(expecting)")
    }

    /// A PGRST100 error at the current position with its own details (`unknown operator noop`).
    func failure(details: String) -> RESTError {
        RESTError.parseFailure(subject, column: index + 1, details: details)
    }
}

extension RESTError {
    /// PostgREST's query-string syntax error: 400 PGRST100, the failing part and position in the message.
    static func parseFailure(_ subject: String, column: Int = 1, details: String) -> RESTError {
        RESTError(status: 400, code: "PGRST100", message: "\"failed to parse \(subject)\" (line 1, column \(column))", details: details)
    }
}
