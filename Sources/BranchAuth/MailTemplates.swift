import Foundation

/// A project's own wording for one kind of auth mail: its subject, its body, or both (nil: the
/// default). The body takes GoTrue's template variables, so a template copied from Supabase's
/// dashboard works: `{{ .ConfirmationURL }}`, `{{ .Token }}`, `{{ .TokenHash }}`, `{{ .SiteURL }}`,
/// `{{ .Email }}`, `{{ .RedirectTo }}` (and in email_change mail `{{ .NewEmail }}`). A body that
/// starts with a tag is sent as HTML, with the values escaped for it; any other is plain text.
package struct MailTemplate: Codable, Sendable, Equatable {
    package var subject: String?
    package var body: String?

    package init(subject: String? = nil, body: String? = nil) {
        self.subject = subject
        self.body = body
    }

    /// The kinds, named as GoTrue's `MAILER_TEMPLATES_*` and `MAILER_SUBJECTS_*` settings name them.
    package static let kinds = EmailTokenKind.allCases.map(\.templateName)

    /// The variables a subject or body may use.
    package static let variables = ["ConfirmationURL", "Token", "TokenHash", "SiteURL", "Email", "RedirectTo", "NewEmail"]

    static let subjectLimit = 200
    static let bodyLimit = 100_000

    /// Why `template` for `kind` cannot be used, or nil: an unknown variable, a subject on several
    /// lines or too long, a body too long, or one that gives the reader no way to confirm.
    package static func problem(_ template: MailTemplate, kind: String) -> String? {
        guard kinds.contains(kind) else {
            return "There is no auth mail named '\(kind)'; the kinds are \(kinds.joined(separator: ", "))."
        }
        for text in [template.subject, template.body].compactMap({ $0 }) {
            if text.components(separatedBy: "{{").count - 1 != matches(in: text).count {
                return "The \(kind) mail has a {{ … }} that is not a variable: Branch fills in variables and runs no template logic ({{ if }}, {{ range }})."
            }
            if let unknown = placeholders(in: text).first(where: { !variables.contains($0) }) {
                return "The \(kind) mail uses {{ .\(unknown) }}, which is not a variable; use " + variables.map { "{{ .\($0) }}" }.joined(separator: ", ") + "."
            }
        }
        if let subject = template.subject {
            if subject.contains("\n") || subject.contains("\r") { return "The \(kind) mail's subject must be one line." }
            if subject.count > subjectLimit { return "The \(kind) mail's subject is longer than \(subjectLimit) characters." }
        }
        if let body = template.body {
            if body.utf8.count > bodyLimit { return "The \(kind) mail's body is larger than \(bodyLimit / 1000) KB." }
            let used = Set(placeholders(in: body))
            if used.isDisjoint(with: ["ConfirmationURL", "Token", "TokenHash"]) {
                return "The \(kind) mail's body has no {{ .ConfirmationURL }}, {{ .Token }} or {{ .TokenHash }}: its reader could not confirm anything."
            }
        }
        return nil
    }

    /// The variable names `text` uses, in order (`{{ .Name }}`, blanks optional).
    static func placeholders(in text: String) -> [String] {
        matches(in: text).map(\.name)
    }

    /// Whether a body is HTML: it starts (after blanks) with a tag or a doctype.
    static func isHTML(_ body: String) -> Bool {
        body.drop { $0.isWhitespace }.first == "<"
    }

    /// `text` with each variable replaced by its value; escaped for HTML when `html`.
    static func render(_ text: String, values: [String: String], html: Bool) -> String {
        var result = ""
        var rest = text[...]
        for match in matches(in: text) {
            result += rest[rest.startIndex..<match.range.lowerBound]
            let value = values[match.name] ?? ""
            result += html ? escaped(value) : value
            rest = text[match.range.upperBound...]
        }
        return result + rest
    }

    private static func matches(in text: String) -> [(name: String, range: Range<String.Index>)] {
        var found: [(name: String, range: Range<String.Index>)] = []
        var search = text.startIndex
        while let open = text.range(of: "{{", range: search..<text.endIndex) {
            guard let close = text.range(of: "}}", range: open.upperBound..<text.endIndex) else { break }
            let inside = text[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if inside.hasPrefix("."), inside.count > 1, inside.dropFirst().allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                found.append((name: String(inside.dropFirst()), range: open.lowerBound..<close.upperBound))
            }
            search = close.upperBound
        }
        return found
    }

    private static func escaped(_ value: String) -> String {
        value.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
    }
}
