/// The query-string parameters of a request: reserved keys, embed-scoped keys and filters.
package enum QueryParser {
    /// every reserved key and filter of a table/view read or write, or of a SETOF rpc (callers remove rpc argument keys first)
    ///
    /// As PostgREST does, a key without a dot whose value does not start with an operator
    /// (`apikey=…`, `id=5`) is not a filter and is ignored; `actors.name=…` always is one.
    /// `select`, `columns` and `on_conflict` take their first occurrence, `limit`/`offset` their last,
    /// `order` its first per embed path; filters and logic trees accumulate in order.
    package static func parse(_ pairs: [(key: String, value: String)]) throws(RESTError) -> QueryParameters {
        var parameters = QueryParameters()
        var seen: Set<String> = []
        for (key, value) in pairs {
            let isFirst = seen.insert(key).inserted
            switch key {
            case "select":
                if isFirst { parameters.select = try SelectParser.parse(value) }
            case "columns":
                if isFirst { parameters.columns = try names(value, parsing: "columns parameter") }
            case "on_conflict":
                if isFirst { parameters.onConflict = try names(value, parsing: "on_conflict parameter") }
            default:
                try apply(key: key, value: value, to: &parameters)
            }
        }
        return parameters
    }

    /// An embeddable reserved key (`order`, `actors.limit`, `not.or`…) or a filter.
    private static func apply(key: String, value: String, to parameters: inout QueryParameters) throws(RESTError) {
        let lastWord = key.split(separator: ".", omittingEmptySubsequences: false).last.map(String.init) ?? key
        switch lastWord {
        case "order":
            let path = try embedPath(ofReserved: key)
            if parameters.order[path] == nil { parameters.order[path] = try OrderParser.parse(value) }
        case "limit":
            parameters.limit[try embedPath(ofReserved: key)] = try count(value, parsing: "limit parameter")
        case "offset":
            parameters.offset[try embedPath(ofReserved: key)] = try count(value, parsing: "offset parameter")
        case "and", "or":
            var path = try embedPath(ofReserved: key)
            let negated = path.last == "not"
            if negated { path.removeLast() }
            parameters.filters[path, default: []].append(try FilterParser.logic(value, isOr: lastWord == "or", negated: negated))
        default:
            guard key.contains(".") || looksLikeFilter(value) else { return }
            let (path, field) = try treePath(key)
            parameters.filters[path, default: []].append(.condition(try FilterParser.condition(field: field, value: value)))
        }
    }

    /// PostgREST's test for a filter value: `not.…`, `is.…`, `in.…`, or a known operator (with a modifier) first.
    private static func looksLikeFilter(_ value: String) -> Bool {
        let words = value.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = words.first else { return false }
        if first == "not" { return words.count > 1 }
        let name = first.prefix { $0 != "(" }
        return FilterOperator(rawValue: String(name)) != nil
    }

    /// `actors.films.title->>x`: the embed path and the filtered field.
    private static func treePath(_ key: String) throws(RESTError) -> (EmbedPath, FieldPath) {
        var scanner = TextScanner(key, parsing: "tree path")
        var names = [try scanner.fieldName()]
        while scanner.consume(".") {
            names.append(try scanner.fieldName())
        }
        let jsonPath = try scanner.jsonPath()
        try scanner.expectEnd("delimiter (.), \"->\", \"->>\" or end of input")
        let column = names.removeLast()
        return (names, FieldPath(column, jsonPath: jsonPath))
    }

    /// `actors.films.order`: the embed path before the reserved word.
    private static func embedPath(ofReserved key: String) throws(RESTError) -> EmbedPath {
        var scanner = TextScanner(key, parsing: "tree path")
        var names = [try scanner.fieldName()]
        while scanner.consume(".") {
            names.append(try scanner.fieldName())
        }
        try scanner.expectEnd("delimiter (.) or end of input")
        return Array(names.dropLast())
    }

    /// `a,b` or `"a","b"`: column names.
    private static func names(_ value: String, parsing what: String) throws(RESTError) -> [String] {
        var scanner = TextScanner(value, parsing: what)
        scanner.skipSpaces()
        var names = [try scanner.fieldName()]
        scanner.skipSpaces()
        while scanner.consume(",") {
            scanner.skipSpaces()
            names.append(try scanner.fieldName())
            scanner.skipSpaces()
        }
        try scanner.expectEnd("\",\" or end of input")
        return names
    }

    /// A non-negative integer (`limit`, `offset`).
    private static func count(_ value: String, parsing what: String) throws(RESTError) -> Int {
        var scanner = TextScanner(value, parsing: what)
        let digits = scanner.read(while: \.isASCIIDigit)
        guard !digits.isEmpty, scanner.isAtEnd else {
            throw scanner.failure(expecting: digits.isEmpty ? "a non-negative integer" : "digit or end of input")
        }
        guard let number = Int(digits) else { throw scanner.failure(details: "\(digits) is too large") }
        return number
    }
}
