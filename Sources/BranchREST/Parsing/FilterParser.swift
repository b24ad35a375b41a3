/// Filters: `col=[not.]op[(modifier)].value` and the logic trees of `or=`/`and=`.
package enum FilterParser {
    /// `col` key + `[not.]op[(mod)].value` value of one filter
    package static func condition(field: String, value: String) throws(RESTError) -> Condition {
        try condition(field: fieldPath(field), value: value)
    }

    /// The condition of `value` on an already parsed field (the query parser splits embed paths off keys).
    static func condition(field: FieldPath, value: String) throws(RESTError) -> Condition {
        var scanner = TextScanner(value, parsing: "filter")
        return try scanner.operation(on: field, extent: .rest)
    }

    /// the value of `or=`/`and=` (`(a.eq.1,and(b.eq.2,not.c.is.null))`), negated for `not.or`
    package static func logic(_ value: String, isOr: Bool, negated: Bool) throws(RESTError) -> LogicTree {
        var scanner = TextScanner(value, parsing: "logic tree")
        let children = try scanner.logicGroup()
        scanner.skipSpaces()
        try scanner.expectEnd()
        return isOr ? .or(children, negated: negated) : .and(children, negated: negated)
    }

    /// `col`, `col->a->>b` (json path)
    package static func fieldPath(_ text: String) throws(RESTError) -> FieldPath {
        var scanner = TextScanner(text, parsing: "field")
        let field = try scanner.field()
        try scanner.expectEnd("\"->\", \"->>\" or end of input")
        return field
    }
}

extension TextScanner {
    /// `(item,item,…)` of a logic tree, at least one item.
    mutating func logicGroup() throws(RESTError) -> [LogicTree] {
        skipSpaces()
        try expect("(")
        defer { depth -= 1 }
        try enterNesting()
        var items: [LogicTree] = []
        while true {
            items.append(try logicItem())
            skipSpaces()
            if consume(",") { continue }
            try expect(")", expecting: "\",\" or \")\"")
            return items
        }
    }

    /// `[not.]and(…)`, `[not.]or(…)`, `field.[not.]op.value`, or `not.field.op.value`.
    private mutating func logicItem() throws(RESTError) -> LogicTree {
        skipSpaces()
        for (keyword, isOr, negated) in [("not.and(", false, true), ("not.or(", true, true), ("and(", false, false), ("or(", true, false)] {
            if hasPrefix(keyword) {
                index += keyword.count - 1
                let children = try logicGroup()
                return isOr ? .or(children, negated: negated) : .and(children, negated: negated)
            }
        }
        if peek == ")" || peek == "," || peek == nil {
            throw failure(expecting: "field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)")
        }
        let start = index
        do {
            return .condition(try logicCondition())
        } catch {
            // `not.done.is.true` (DATA-API.md's example) for PostgREST's `done.not.is.true`, when `not`
            // cannot be read as a column name.
            index = start
            guard consume("not."), var condition = try? logicCondition() else { throw error }
            condition.negated.toggle()
            return .condition(condition)
        }
    }

    /// `field.[not.]op.value` inside a logic tree.
    private mutating func logicCondition() throws(RESTError) -> Condition {
        let field = try field()
        try expect(".", expecting: "delimiter (.)")
        return try operation(on: field, extent: .logicItem)
    }
}
