/// Where the value of a condition ends.
enum ValueExtent {
    /// A query-string filter (`col=eq.value`): the value is everything after the operator.
    case rest
    /// A condition inside `or=(…)`/`and=(…)`: the value ends at `,` or `)` unless quoted or bracketed.
    case logicItem
}

extension FilterOperator {
    /// `fts`, `plfts`, `phfts`, `wfts`: the ones that take a text search configuration, `fts(english)`.
    var isTextSearch: Bool { [.fts, .plfts, .phfts, .wfts].contains(self) }
    /// The ones PostgREST lets `(any)`/`(all)` quantify.
    var isQuantifiable: Bool { [.eq, .gt, .gte, .lt, .lte, .like, .ilike, .match, .imatch].contains(self) }
    /// `like`/`ilike`, whose patterns write `*` for `%` (a `%` is awkward in URLs).
    var isPattern: Bool { self == .like || self == .ilike }
    /// Operators whose value may be a range literal such as `[1,5)` or `(1,5]`.
    var takesRange: Bool { [.cs, .cd, .ov, .sl, .sr, .nxl, .nxr, .adj].contains(self) }
}

extension TextScanner {
    /// `[not.]op[(modifier)].value` on `field`: the operator expression of a filter or logic item.
    mutating func operation(on field: FieldPath, extent: ValueExtent) throws(RESTError) -> Condition {
        let negated = consume("not.")
        let operatorStart = index
        let name = read(while: \.isLetter)
        guard let op = FilterOperator(rawValue: name) else {
            index = operatorStart
            throw name.isEmpty
                ? failure(expecting: "operator (eq, gt, ...)")
                : failure(details: "unknown operator \(name) expecting operator (eq, gt, ...)")
        }
        var condition = Condition(field: field, negated: negated, op: op, operand: .value(""))
        if peek == "(" {
            if op.isTextSearch {
                index += 1
                condition.language = try identifier("text search configuration")
                try expect(")")
            } else if op.isQuantifiable {
                index += 1
                let modifierStart = index
                guard let quantifier = Quantifier(rawValue: read(while: \.isLetter)) else {
                    index = modifierStart
                    throw failure(expecting: "modifier (any, all)")
                }
                condition.quantifier = quantifier
                try expect(")")
            }
        }
        try expect(".", expecting: "delimiter (.)")
        condition.operand = try operand(of: op, quantified: condition.quantifier != nil, extent: extent)
        if extent == .rest {
            try expectEnd()
        }
        return condition
    }

    /// The value after the operator's delimiter, shaped by the operator.
    private mutating func operand(of op: FilterOperator, quantified: Bool, extent: ValueExtent) throws(RESTError) -> Operand {
        let pattern: (String) -> String = { op.isPattern ? $0.replacing("*", with: "%") : $0 }
        switch op {
        case .in:
            let items = try list(opening: "(", closing: ")", trimming: false)
            if extent == .rest { skipSpaces() }
            return .list(items)
        case .is:
            return .isValue(try isValue())
        default:
            if quantified {
                let items = peek == "{" ? try list(opening: "{", closing: "}", trimming: true) : try list(opening: "(", closing: ")", trimming: false)
                if extent == .rest { skipSpaces() }
                return .list(items.map(pattern))
            }
            return .value(pattern(try singleValue(of: op, extent: extent)))
        }
    }

    /// `null`, `not_null`, `true`, `false`, `unknown`, in any case.
    private mutating func isValue() throws(RESTError) -> Operand.IsValue {
        let start = index
        let word = read(while: { $0.isLetter || $0 == "_" })
        guard let value = Operand.IsValue(rawValue: word.lowercased()) else {
            index = start
            throw failure(expecting: "null or trilean value (not_null, unknown, true, false)")
        }
        return value
    }

    /// `(a,"b,c")` or `{a,"b c"}`: items, each bare or double-quoted with `\"`/`\\` escapes.
    /// Postgres trims the bare items of an array literal, so `{…}` lists trim them too.
    private mutating func list(opening: Character, closing: Character, trimming: Bool) throws(RESTError) -> [String] {
        skipSpaces()
        try expect(opening)
        skipSpaces()
        if consume(closing) { return [] }
        var items: [String] = []
        while true {
            items.append(listItem(closing: closing, trimming: trimming))
            if consume(",") { continue }
            try expect(closing, expecting: "\",\" or \"\(closing)\"")
            return items
        }
    }

    /// One item of a list; a quoted item must be followed by `,` or the list's end, else it is read bare.
    private mutating func listItem(closing: Character, trimming: Bool) -> String {
        let start = index
        if trimming { skipSpaces() }
        if let quoted = quotedValue() {
            if trimming { skipSpaces() }
            if peek == "," || peek == closing { return quoted }
        }
        index = start
        let bare = read(while: { $0 != "," && $0 != closing })
        return trimming ? bare.trimmingSpaces : bare
    }

    /// A single value: the rest of a filter, or up to `,`/`)` in a logic tree, where a value may be
    /// double-quoted (`"a,b"`) or an array, JSON or range literal with commas inside (`{a,b}`, `[1,5)`).
    private mutating func singleValue(of op: FilterOperator, extent: ValueExtent) throws(RESTError) -> String {
        guard extent == .logicItem else {
            defer { index = characters.count }
            return String(characters[index...])
        }
        let start = index
        if let quoted = quotedValue(), peek == nil || peek == "," || peek == ")" {
            return quoted
        }
        index = start
        if peek == "{" || peek == "[" || (peek == "(" && op.takesRange) {
            return try bracketedText()
        }
        return read(while: { $0 != "," && $0 != ")" })
    }

    /// `{…}`, `[…]`, `[…)`: text up to the bracket that closes the first one, quotes respected.
    private mutating func bracketedText() throws(RESTError) -> String {
        let start = index
        var depth = 0
        var inQuotes = false
        while let next = peek {
            index += 1
            if inQuotes {
                if next == "\\" { index += 1 } else if next == "\"" { inQuotes = false }
                continue
            }
            switch next {
            case "\"": inQuotes = true
            case "{", "[", "(": depth += 1
            case "}", "]", ")": depth -= 1
            default: break
            }
            if depth == 0 { return String(characters[start..<index]) }
        }
        throw failure(expecting: "closing bracket")
    }
}
