import Foundation

/// Postgres quoting for SQL the console writes itself (the table editor's saves and imports):
/// identifiers as `quote_ident` does, values as typed literals `'…'::type` that never let a value
/// end its string. Types come from the catalog (`format_type`), never from the browser.
enum SQLQuoting {
    struct InvalidValue: Error {
        var message: String
    }

    /// `name` as an identifier: always double-quoted, inner quotes doubled (`quote_ident`, minus
    /// its choice to leave plain lower-case names bare).
    static func identifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `schema.name` with both parts quoted.
    static func qualified(schema: String, name: String) -> String {
        identifier(schema) + "." + identifier(name)
    }

    /// A string literal: quotes doubled; with a backslash, an `E''` literal with backslashes
    /// doubled too, so the meaning does not depend on `standard_conforming_strings`.
    static func literal(_ value: String) throws -> String {
        guard !value.contains("\u{0}") else { throw InvalidValue(message: "A value may not contain a NUL character.") }
        let quoted = value.replacingOccurrences(of: "'", with: "''")
        if value.contains("\\") { return "E'" + quoted.replacingOccurrences(of: "\\", with: "\\\\") + "'" }
        return "'" + quoted + "'"
    }

    /// A value of column type `type` (from `format_type`): `NULL`, or the literal cast to it.
    static func typed(_ value: String?, type: String) throws -> String {
        guard let value else { return "NULL" }
        return try literal(value) + "::" + type
    }
}
