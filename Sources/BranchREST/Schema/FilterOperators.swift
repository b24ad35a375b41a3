/// The PostgREST filter operators that suit a column's type, in words, for the agent documents.
enum FilterOperators {
    /// E.g. "`eq`, `neq`, `gt`, `gte`, `lt`, `lte`, `in.(a,b)`, `is.null`".
    static func describe(_ column: Column) -> String {
        let udt = column.udtName
        var operators: [String]
        if udt.hasPrefix("_") {
            operators = ["eq", "neq", "cs.{a,b} (contains)", "cd.{a,b} (contained in)", "ov.{a,b} (overlaps)"]
        } else if udt == "json" || udt == "jsonb" {
            operators = ["cs.{\"key\":\"value\"} (contains, jsonb)", "cd (contained in)"]
            return (operators + ["is.null"]).map(code).joined(separator: ", ") + "; filter inside with `\(column.name)->>key=eq.value`"
        } else if udt == "bool" {
            operators = ["eq.true", "is.true", "is.false", "is.unknown"]
        } else if udt == "tsvector" {
            operators = ["fts", "plfts", "phfts", "wfts", "fts(english)"]
        } else if udt.hasSuffix("range") {
            operators = ["eq", "cs", "cd", "ov", "sl", "sr", "nxl", "nxr", "adj"]
        } else if ["text", "varchar", "bpchar", "citext", "name"].contains(udt) || !column.enumValues.isEmpty {
            operators = ["eq", "neq", "gt", "gte", "lt", "lte", "like.*pattern*", "ilike.*pattern*", "match.regex", "imatch.regex", "in.(a,b)"]
            if column.enumValues.isEmpty { operators += ["fts (full-text)"] }
        } else {
            operators = ["eq", "neq", "gt", "gte", "lt", "lte", "in.(a,b)", "isdistinct"]
        }
        if column.nullable { operators += ["is.null", "not.is.null"] }
        return operators.map(code).joined(separator: ", ")
    }

    private static func code(_ text: String) -> String { "`\(text)`" }
}
