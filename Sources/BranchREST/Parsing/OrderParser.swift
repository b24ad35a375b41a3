/// `order=`: comma-separated `field[->path][.asc|.desc][.nullsfirst|.nullslast]`.
package enum OrderParser {
    /// Parses an order list such as `col.desc.nullsfirst,name` (ascending unless told).
    package static func parse(_ text: String) throws(RESTError) -> [OrderTerm] {
        var scanner = TextScanner(text, parsing: "order")
        var terms = [try scanner.orderTerm()]
        while scanner.consume(",") {
            terms.append(try scanner.orderTerm())
        }
        try scanner.expectEnd("\",\" or end of input")
        return terms
    }
}

extension TextScanner {
    /// One term; its modifiers come in order, direction first, each at most once.
    fileprivate mutating func orderTerm() throws(RESTError) -> OrderTerm {
        var term = OrderTerm(field: try field())
        var expecting = "\"asc\", \"desc\", \"nullsfirst\" or \"nullslast\""
        var directionAllowed = true
        while consume(".") {
            let wordStart = index
            switch read(while: \.isLetter) {
            case "asc" where directionAllowed: term.direction = .ascending
            case "desc" where directionAllowed: term.direction = .descending
            case "nullsfirst" where term.nulls == nil: term.nulls = .first
            case "nullslast" where term.nulls == nil: term.nulls = .last
            default:
                index = wordStart
                throw failure(expecting: expecting)
            }
            directionAllowed = false
            expecting = "\"nullsfirst\" or \"nullslast\""
            if term.nulls != nil { break }
        }
        skipSpaces()
        guard peek == nil || peek == "," else {
            throw failure(expecting: term.nulls == nil ? "delimiter (.), \",\" or end of input" : "\",\" or end of input")
        }
        return term
    }
}
