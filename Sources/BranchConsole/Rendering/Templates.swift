import Mustache

/// The console's Mustache templates (`Assets/templates/*.mustache`, embedded at build time),
/// parsed once. `{{value}}` escapes HTML; no template uses the unescaped `{{{…}}}` form on data
/// (ConsoleTemplateTests checks), so text from a database can never become markup.
struct Templates: Sendable {
    let library: MustacheLibrary

    init() {
        var library = MustacheLibrary()
        for (path, text) in consoleAssetTexts where path.hasPrefix("templates/") && path.hasSuffix(".mustache") {
            let name = String(path.dropFirst("templates/".count).dropLast(".mustache".count))
            do {
                try library.register(text, named: name)
            } catch {
                // A template that does not parse is a bug caught by ConsoleTemplateTests.
                preconditionFailure("console template \(name) does not parse: \(error)")
            }
        }
        self.library = library
    }

    func render(_ object: Any, _ template: String) -> String {
        guard let html = library.render(object, withTemplate: template) else {
            preconditionFailure("no console template named \(template)")
        }
        return html
    }
}
