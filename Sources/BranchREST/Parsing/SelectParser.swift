/// `select=`: columns, renames, casts, JSON paths and embedded relations.
package enum SelectParser {
    /// Parses `[alias:]column[->path][::cast]`, `*` and `[alias:]relation[!hint][!inner|!left](…)`,
    /// comma-separated; an empty text selects `*`.
    package static func parse(_ text: String) throws(RESTError) -> [SelectItem] {
        guard !text.trimmingSpaces.isEmpty else { return [.star] }
        var scanner = TextScanner(text, parsing: "select parameter")
        let items = try scanner.selectItems(allowsEmpty: false)
        try scanner.expectEnd("\",\" or end of input")
        return items
    }
}

extension TextScanner {
    /// Items separated by commas; an embed may list none (`clients()`, embedded only to filter).
    fileprivate mutating func selectItems(allowsEmpty: Bool) throws(RESTError) -> [SelectItem] {
        skipSpaces()
        if allowsEmpty, peek == ")" { return [] }
        var items = [try selectItem()]
        while consume(",") {
            items.append(try selectItem())
        }
        return items
    }

    /// One item, followed by `,`, `)` or the end.
    private mutating func selectItem() throws(RESTError) -> SelectItem {
        skipSpaces()
        if consume("*") {
            skipSpaces()
            try expectItemEnd()
            return .star
        }
        let alias = try alias()
        let name = try fieldName()
        if peek == "!" || peek == "(" {
            return .embed(try embed(relation: name, alias: alias))
        }
        let path = try jsonPath()
        var cast: String?
        if consume("::") {
            cast = try identifier("cast type")
        }
        skipSpaces()
        try expectItemEnd()
        return .field(FieldPath(name, jsonPath: path), alias: alias, cast: cast)
    }

    /// `alias:` (a single colon, `::` is a cast), or nil with the position unchanged.
    private mutating func alias() throws(RESTError) -> String? {
        let start = index
        if let name = try? fieldName(), peek == ":", peek(offset: 1) != ":" {
            index += 1
            skipSpaces()
            return name
        }
        index = start
        return nil
    }

    /// `relation[!hint][!inner|!left](items)`, the name already read.
    private mutating func embed(relation: String, alias: String?) throws(RESTError) -> Embed {
        var embed = Embed(relation: relation, alias: alias, items: [])
        var marks = 0
        while consume("!") {
            marks += 1
            guard marks <= 2 else {
                index -= 1
                throw failure(expecting: "\"(\"")
            }
            let mark = try fieldName()
            switch mark {
            case "inner": embed.join = .inner
            case "left": embed.join = .left
            default: embed.hint = mark
            }
        }
        try expect("(")
        defer { depth -= 1 }
        try enterNesting()
        embed.items = try selectItems(allowsEmpty: true)
        skipSpaces()
        try expect(")", expecting: "\",\" or \")\"")
        skipSpaces()
        try expectItemEnd()
        return embed
    }

    /// The end of an item: a comma, the `)` of the enclosing embed, or the end of the text.
    private func expectItemEnd() throws(RESTError) {
        guard peek == nil || peek == "," || peek == ")" else {
            throw failure(expecting: "\"->\", \"->>\", \"::\", \"!\", \"(\", \",\", \")\" or end of input")
        }
    }
}
