import Foundation
/// Which entries of the source's schema dump (`pg_restore -l`) an import restores. Extensions
/// are created beforehand by the import itself (only those installed here), schemas this
/// project already has are kept as they are, and event triggers belong to the source's
/// platform, not to its data.
enum ImportTOC {
    /// One entry of a `pg_restore -l` listing: `215; 1259 16386 TABLE public items postgres`.
    struct Entry: Equatable {
        let line: String
        /// What it is: `TABLE`, `EXTENSION`, `COMMENT`, `EVENT TRIGGER`, …
        let kind: String
        /// The rest after the kind: `schema name owner` (`-` for no schema).
        let tag: String
    }

    /// Descriptions of more than one word, longest first, so `EVENT TRIGGER` is not read as `EVENT`.
    private static let kinds = [
        "MATERIALIZED VIEW DATA", "PUBLICATION TABLES IN SCHEMA", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY",
        "TEXT SEARCH TEMPLATE", "TEXT SEARCH PARSER", "FOREIGN DATA WRAPPER", "PROCEDURAL LANGUAGE", "MATERIALIZED VIEW",
        "DEFAULT ACL", "EVENT TRIGGER", "FK CONSTRAINT", "FOREIGN TABLE", "LARGE OBJECT", "OPERATOR CLASS", "OPERATOR FAMILY",
        "PUBLICATION TABLE", "SEQUENCE OWNED BY", "SEQUENCE SET", "TABLE DATA", "TABLE ATTACH", "USER MAPPING", "INDEX ATTACH",
        "STATISTICS DATA", "SHELL TYPE",
    ]

    static func parse(_ line: String) -> Entry? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, !trimmed.hasPrefix(";"), let semicolon = trimmed.firstIndex(of: ";") else { return nil }
        // After "ID;" come the catalog OID and the object OID, then the description.
        let fields = trimmed[trimmed.index(after: semicolon)...].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard fields.count == 3 else { return nil }
        let rest = String(fields[2])
        let kind = kinds.first { rest == $0 || rest.hasPrefix($0 + " ") } ?? String(rest.split(separator: " ").first ?? "")
        let tag = String(rest.dropFirst(kind.count)).trimmingCharacters(in: .whitespaces)
        return Entry(line: line, kind: kind, tag: tag)
    }

    /// What is left out, and why (for the import's report).
    struct Skipped: Equatable, Sendable {
        let kind: String
        let name: String
        let reason: String
    }

    /// The listing to restore (`pg_restore -L`) and what was left out of it.
    static func plan(listing: String, existingSchemas: Set<String>) -> (list: String, skipped: [Skipped]) {
        var kept: [String] = []
        var skipped: [Skipped] = []
        for line in listing.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            guard let entry = parse(line) else {
                kept.append(line)
                continue
            }
            let words = entry.tag.split(separator: " ").map(String.init)
            switch entry.kind {
            case "EXTENSION":
                continue // created before the restore, when installed here
            case "COMMENT" where words.count >= 3 && words[1] == "EXTENSION":
                continue
            case "SCHEMA" where words.count >= 2 && existingSchemas.contains(words[1]):
                continue // `public`, `extensions`: this project has them already
            case "EVENT TRIGGER":
                let name = words.count >= 2 ? words[1] : entry.tag
                skipped.append(Skipped(kind: "event trigger", name: name, reason: "event triggers are the source platform's; Branch runs its own"))
                continue
            case "PUBLICATION", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA", "SUBSCRIPTION":
                continue
            default:
                kept.append(line)
            }
        }
        return (kept.joined(separator: "\n"), skipped)
    }
}
