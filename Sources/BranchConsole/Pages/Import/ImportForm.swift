import BranchAPI
import Foundation

/// The "Import a database" form: what the user typed (never the source URL, which holds a
/// password), the error of the last try, and how to turn the posted fields into the API's request.
struct ImportForm: Sendable {
    // Named apart from the page's own fields: the template reads them inside the page's context.
    var importName = ""
    var importMirror = false
    var importPublication = ""
    var importWorkers = ""
    var importError: String?
    var importHint: String?
    /// The form starts unfolded: it was just posted, or a failed import offers it again.
    var importOpen = false
    /// The CLI command that does the same (stored: the template reads stored properties only).
    var importCLI = ""

    init() {
        importCLI = commandLine()
    }

    /// A form offering `name` again (a failed import's).
    init(again name: String) {
        importName = name
        importOpen = true
        importCLI = commandLine()
    }

    init(_ fields: FormFields) {
        importName = fields.text("name") ?? ""
        importMirror = fields["mirror"] == "on"
        importPublication = fields.text("publication") ?? ""
        importWorkers = fields.text("workers") ?? ""
        importOpen = true
        importCLI = commandLine()
    }

    /// The API's request, or a message saying which field is wrong.
    func request(from source: String?) -> Result<Components.Schemas.ImportProjectRequest, ImportFormError> {
        guard !importName.isEmpty else { return .failure(.init(message: "Name the new project.")) }
        guard let source, !source.isEmpty else { return .failure(.init(message: "Give the source's URL: postgres://USER:PASSWORD@HOST:PORT/DATABASE.")) }
        var count: Int?
        if !importWorkers.isEmpty {
            guard let parsed = Int(importWorkers) else { return .failure(.init(message: "Workers is a whole number from 1 to 16.")) }
            count = parsed
        }
        return .success(.init(
            from: source, mirror: importMirror ? true : nil, name: importName,
            publication: importMirror && !importPublication.isEmpty ? importPublication : nil, workers: count))
    }

    /// The CLI command that does the same, the password left out.
    func commandLine() -> String {
        var words = ["branch project import", importName.isEmpty ? "NAME" : importName, "--from 'postgres://USER:PASSWORD@HOST:PORT/DATABASE'"]
        if !importWorkers.isEmpty { words.append("--workers \(importWorkers)") }
        if importMirror { words.append("--mirror") }
        if importMirror && !importPublication.isEmpty { words.append("--publication \(importPublication)") }
        return words.joined(separator: " ")
    }

    /// `text` with the password of `source` (as typed, and percent-decoded) replaced by `****`:
    /// an answer about the source must never show it back (one or two characters would only
    /// garble the message, and the service leaves the password out of its answers anyway).
    static func redacting(_ text: String, source: String?) -> String {
        guard let source, let components = URLComponents(string: source) else { return text }
        var result = text
        for secret in [components.percentEncodedPassword, components.password].compactMap({ $0 }) where secret.count >= 3 {
            result = result.replacingOccurrences(of: secret, with: "****")
        }
        return result
    }
}

struct ImportFormError: Error, Sendable {
    var message: String
}
