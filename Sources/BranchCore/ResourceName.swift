/// A validated name for a project, branch or snapshot.
///
/// Allowed: lowercase ASCII letters, digits and `-`, 1 to 63 characters, starting with a letter
/// or digit. Such a name is safe as a path component, a PgBouncer database name, a Postgres role
/// and database name, and a container name, and `__` (the pooler's project/branch separator)
/// cannot occur in it.
package struct ResourceName: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    package let rawValue: String

    /// Names that would collide with Postgres or PgBouncer built-ins.
    package static let reserved: Set<String> = ["postgres", "pgbouncer", "template0", "template1"]

    package init(validating raw: String, kind: String = "name") throws(NameError) {
        guard !raw.isEmpty, raw.utf8.count <= 63 else {
            throw NameError(kind: kind, name: raw, reason: "must be 1 to 63 characters long")
        }
        for byte in raw.utf8 {
            let ok = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D
            guard ok else {
                throw NameError(kind: kind, name: raw, reason: "may contain only lowercase letters, digits and '-'")
            }
        }
        guard raw.utf8.first != 0x2D else {
            throw NameError(kind: kind, name: raw, reason: "must start with a letter or a digit")
        }
        guard !Self.reserved.contains(raw) else {
            throw NameError(kind: kind, name: raw, reason: "is reserved")
        }
        self.rawValue = raw
    }

    package var description: String { rawValue }
    package static func < (lhs: ResourceName, rhs: ResourceName) -> Bool { lhs.rawValue < rhs.rawValue }

    package init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        self = try ResourceName(validating: raw)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A name that failed validation.
package struct NameError: ReportableError {
    package let kind: String
    package let name: String
    package let reason: String

    package var code: ErrorCode { .invalidName }
    package var message: String {
        // Show at most 80 characters of what was given, escaped, so the message stays readable.
        let shown = String(name.unicodeScalars.prefix(80).map { $0.escaped(asASCII: true) }.joined())
        return "Invalid \(kind) '\(shown)': it \(reason)."
    }
    package var hint: String? { "Use 1 to 63 lowercase letters, digits or '-', starting with a letter or digit." }
}
