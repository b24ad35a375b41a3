import BranchCore
import Foundation

/// Postgres values as JSON, for admin SQL's answers (docs/agents.md lists the mapping):
/// booleans and small numbers as JSON numbers and booleans; int8 and numeric as numbers only
/// while a double holds them exactly, else as strings; json and jsonb as the JSON they hold;
/// everything else (text, dates, uuid, arrays, bytea as `\x…`) as Postgres' text.
enum SQLValues {
    /// The largest integer a double (and so a JavaScript number) holds exactly.
    static let exactIntegerLimit: Int64 = 9_007_199_254_740_991

    /// Names of the built-in types by OID, so most results need no catalog lookup.
    static let builtinTypeNames: [UInt32: String] = [
        16: "bool", 17: "bytea", 18: "char", 19: "name", 20: "int8", 21: "int2", 23: "int4", 24: "regproc", 25: "text",
        26: "oid", 114: "json", 142: "xml", 650: "cidr", 700: "float4", 701: "float8", 790: "money", 829: "macaddr",
        869: "inet", 1000: "_bool", 1001: "_bytea", 1005: "_int2", 1007: "_int4", 1009: "_text", 1016: "_int8",
        1021: "_float4", 1022: "_float8", 1042: "bpchar", 1043: "varchar", 1015: "_varchar", 1082: "date", 1083: "time",
        1114: "timestamp", 1115: "_timestamp", 1182: "_date", 1184: "timestamptz", 1185: "_timestamptz", 1186: "interval",
        1266: "timetz", 1560: "bit", 1562: "varbit", 1700: "numeric", 1231: "_numeric", 2205: "regclass", 2206: "regtype",
        2249: "record", 2278: "void", 2950: "uuid", 2951: "_uuid", 3220: "pg_lsn", 3614: "tsvector", 3615: "tsquery",
        3802: "jsonb", 3807: "_jsonb", 199: "_json", 3904: "int4range", 3906: "numrange", 3908: "tsrange", 3910: "tstzrange",
        3912: "daterange", 3926: "int8range", 4089: "regnamespace", 4096: "regrole", 705: "unknown",
    ]

    /// `text` (Postgres' text output of a value of type `type`) as JSON.
    static func json(_ text: String?, type: String) -> JSONValue {
        guard let text else { return .null }
        switch type {
        case "bool": return .bool(text == "t")
        case "int2", "int4", "oid": return Int(text).map(JSONValue.integer) ?? .string(text)
        case "int8":
            guard let value = Int64(text), abs(value) <= exactIntegerLimit else { return .string(text) }
            return .integer(Int(value))
        case "float4", "float8":
            guard let value = Double(text), value.isFinite else { return .string(text) }
            return .number(value)
        case "numeric": return numeric(text)
        case "json", "jsonb":
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return .string(text) }
            return value
        default: return .string(text)
        }
    }

    /// A numeric as a JSON number when a double holds it exactly (at most 15 significant digits),
    /// else as its text (NaN and Infinity included).
    static func numeric(_ text: String) -> JSONValue {
        let digits = text.drop { $0 == "-" || $0 == "+" }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), digits.filter({ $0 == "." }).count <= 1 else {
            return .string(text)
        }
        let significant = digits.filter(\.isNumber).drop { $0 == "0" }
        let trimmed = digits.contains(".") ? String(significant).replacing(/0+$/, with: "") : String(significant)
        guard trimmed.count <= 15, let value = Double(text) else { return .string(text) }
        if !digits.contains("."), let integer = Int(text) { return .integer(integer) }
        return .number(value)
    }

    /// The command tag's verb: `INSERT 0 1` → `INSERT`, `CREATE TABLE` → `CREATE TABLE`.
    static func command(_ tag: String) -> String {
        var words = tag.split(separator: " ")
        while let last = words.last, last.allSatisfy(\.isNumber) { words.removeLast() }
        return words.joined(separator: " ")
    }
}
