import Foundation
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
        guard let html = library.render(TemplateValues.tree(object), withTemplate: template) else {
            preconditionFailure("no console template named \(template)")
        }
        return html
    }
}

/// A page's model as nested dictionaries and arrays, read once by reflection. Mustache looks a
/// name up by reflecting the object in context, and climbs the context stack (reflecting every
/// enclosing object) when it misses: per cell of a 50-row table that was tens of milliseconds.
/// A dictionary answers by key (`MustacheParent`), with the same results: a nil optional is left
/// out, so the lookup climbs the stack as it did.
enum TemplateValues {
    static func tree(_ value: Any) -> Any {
        switch value {
        case is String, is Substring, is Bool, is Int, is Double, is Date, is URL, is UUID, is Decimal, is any MustacheParent,
            is any MustacheCustomRenderable, is MustacheLambda:
            return value
        default:
            break
        }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .struct?, .class?:
            var fields: [String: Any] = [:]
            for child in mirror.children {
                guard let label = child.label, let field = unwrapped(child.value) else { continue }
                fields[label] = tree(field)
            }
            return fields
        case .collection?, .set?:
            return mirror.children.compactMap { unwrapped($0.value).map(tree) }
        case .dictionary?:
            var entries: [String: Any] = [:]
            for child in mirror.children {
                let pair = Array(Mirror(reflecting: child.value).children)
                guard pair.count == 2, let key = pair[0].value as? String, let entry = unwrapped(pair[1].value) else { continue }
                entries[key] = tree(entry)
            }
            return entries
        case .optional?:
            return unwrapped(value).map(tree) ?? value
        default:
            return value  // enums, tuples and the other scalars render as they are
        }
    }

    /// The value an optional holds (nil for none); any other value as it is.
    static func unwrapped(_ value: Any) -> Any? {
        guard let optional = value as? any OptionalValue else { return value }
        return optional.wrappedValue.flatMap(unwrapped)
    }
}

/// An optional seen through `Any`, opened without a Mirror (reflection is the slow part of
/// reading a model).
protocol OptionalValue {
    var wrappedValue: Any? { get }
}

extension Optional: OptionalValue {
    var wrappedValue: Any? { map { $0 as Any } }
}
