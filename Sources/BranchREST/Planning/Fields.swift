/// The rows one level of a statement reads, as its SQL names them.
struct RowSource {
    /// What columns are qualified with, quoted: `"todos"`, `"users_1"`.
    var alias: String
    /// The relation whose columns these are; nil for a function returning `record` (columns unchecked).
    var relation: Relation?
    /// The name errors use: `column todos.x does not exist`.
    var name: String

    /// The column `name`, 400 `42703` when the relation has none; nil when columns are unknown.
    func column(_ name: String) throws(RESTError) -> Column? {
        guard let relation else { return nil }
        guard let column = relation.column(name) else {
            throw RESTError(status: 400, code: "42703", message: "column \(self.name).\(name) does not exist")
        }
        return column
    }
}

/// What a field expression yields, for choosing how to compare it.
enum FieldType {
    /// A column's own value.
    case column(Column)
    /// `->`: a JSON value (`jsonb` unless the column is `json`).
    case json(isBinary: Bool)
    /// `->>`: text.
    case text
    /// A column of a relation whose columns are unknown.
    case unknown
}

extension Column {
    /// `format_type` without type modifiers (`character varying(20)` → `character varying`), so a
    /// cast to it never truncates; array brackets and schema qualification are kept. `character(n)`
    /// and `bit(n)` become `bpchar` and `varbit`: without a length they would mean a length of 1.
    var typeWithoutModifiers: String {
        var result = ""
        var inQuotes = false
        var stripped = false
        var characters = type[...]
        while let character = characters.first {
            if character == "\"" { inQuotes.toggle() }
            if !inQuotes, character == "(", let close = characters.firstIndex(of: ")"),
                characters[characters.index(after: characters.startIndex)..<close].allSatisfy({ $0.isNumber || $0 == "," || $0 == " " })
            {
                characters = characters[characters.index(after: close)...]
                stripped = true
                continue
            }
            result.append(character)
            characters = characters.dropFirst()
        }
        guard stripped else { return result }
        let brackets = result.reversed().prefix { $0 == "[" || $0 == "]" }.count
        let base = result.dropLast(brackets)
        let suffix = result.suffix(brackets)
        switch base {
        case "character": return "bpchar" + suffix
        case "bit": return "varbit" + suffix
        default: return result
        }
    }

    /// Whether JSON operators apply to it directly.
    var isJSON: Bool { udtName == "json" || udtName == "jsonb" }
}

extension StatementBuilder {
    /// `"alias"."column"`, with a JSON path `->$1::text->>$2::text` whose keys are parameters
    /// (a column that is not json/jsonb goes through `to_jsonb` first, as in PostgREST).
    mutating func expression(_ field: FieldPath, in source: RowSource) throws(RESTError) -> (sql: String, type: FieldType) {
        let column = try source.column(field.column)
        var sql = "\(source.alias).\(quoted(field.column))"
        guard let lastStep = field.jsonPath.last else {
            return (sql, column.map(FieldType.column) ?? .unknown)
        }
        if !(column?.isJSON ?? false) { sql = "to_jsonb(\(sql))" }
        for step in field.jsonPath {
            let arrow = step.arrow == .json ? "->" : "->>"
            // `->0`, `->-1`: an array index; anything else a key.
            let digits = step.key.hasPrefix("-") ? step.key.dropFirst() : step.key[...]
            let isIndex = !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
            sql += arrow + bind(step.key, as: isIndex ? "integer" : "text")
        }
        if lastStep.arrow == .text { return (sql, .text) }
        return (sql, .json(isBinary: column?.udtName != "json"))
    }
}

/// Cast target types accepted in `select=col::type`: a plain type name (`text`, `int4`, `numeric`,
/// `my_enum`), an array of one (`text[]`), or one of the SQL types spelled with spaces. Nothing
/// else reaches the SQL text, so a cast cannot smuggle syntax in.
enum CastType {
    private static let multiWord: Set<String> = [
        "double precision", "character varying", "bit varying", "timestamp with time zone", "timestamp without time zone",
        "time with time zone", "time without time zone",
    ]

    /// The type as written into the SQL; 400 `PGRST100` for anything else.
    static func checked(_ text: String) throws(RESTError) -> String {
        var base = text.lowercased()
        var brackets = ""
        while base.hasSuffix("[]") {
            base.removeLast(2)
            brackets += "[]"
        }
        let isWord = !base.isEmpty && base.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            && !(base.first?.isNumber ?? true)
        guard isWord || multiWord.contains(base) else {
            throw RESTError(
                status: 400, code: "PGRST100", message: "\"failed to parse select parameter (\(text))\"",
                details: "unexpected cast type \"\(text)\"")
        }
        return base + brackets
    }
}
