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

/// A page's model as nested nodes and arrays, read once by reflection. Mustache looks a
/// name up by reflecting the object in context, and climbs the context stack (reflecting every
/// enclosing object) when it misses: per cell of a 50-row table that was tens of milliseconds.
/// A `TemplateNode` answers by key (`MustacheParent`), with the same results: a nil optional is
/// left out, so the lookup climbs the stack as it did.
enum TemplateValues {
    static func tree(_ value: Any) -> Any {
        switch value {
        case is String, is Substring, is Bool, is Int, is Double, is Date, is URL, is UUID, is Decimal, is TemplateNode,
            is any MustacheCustomRenderable, is MustacheLambda:
            return value
        default:
            break
        }
        let mirror = Mirror(reflecting: value)
        // Types that answer by name themselves keep doing so; a dictionary becomes a node.
        if value is any MustacheParent, mirror.displayStyle != .dictionary { return value }
        switch mirror.displayStyle {
        case .struct?, .class?:
            var fields: [String: Any] = [:]
            for child in mirror.children {
                guard let label = child.label, let field = unwrapped(child.value) else { continue }
                fields[label] = node(label, field)
            }
            return TemplateNode(fields)
        case .collection?, .set?:
            return mirror.children.compactMap { unwrapped($0.value).map(tree) }
        case .dictionary?:
            var entries: [String: Any] = [:]
            for child in mirror.children {
                let pair = Array(Mirror(reflecting: child.value).children)
                guard pair.count == 2, let key = pair[0].value as? String, let entry = unwrapped(pair[1].value) else { continue }
                entries[key] = node(key, entry)
            }
            return TemplateNode(entries)
        case .optional?:
            return unwrapped(value).map(tree) ?? value
        default:
            return value  // enums, tuples and the other scalars render as they are
        }
    }

    /// A field's value in the tree. A name ending in `HTML` is printed unescaped (`{{{nameHTML}}}`),
    /// so it keeps only markup built by `HTML`: anything else there is left out and prints nothing.
    static func node(_ name: String, _ value: Any) -> Any? {
        guard name.hasSuffix("HTML") else { return tree(value) }
        return value as? HTML
    }

    /// The value an optional holds (nil for none); any other value as it is.
    static func unwrapped(_ value: Any) -> Any? {
        guard let optional = value as? any OptionalValue else { return value }
        return optional.wrappedValue.flatMap(unwrapped)
    }
}

/// A struct's fields or a dictionary's entries by name. A final class, not a `[String: Any]`:
/// Mustache casts every object on its context stack to `MustacheParent` for every name it looks
/// up, and a cast to a conditional conformance (`Dictionary where Key == String`) checks the
/// condition each time, the largest part of rendering a table's cells.
final class TemplateNode: MustacheParent, @unchecked Sendable {
    let fields: [String: Any]

    init(_ fields: [String: Any]) { self.fields = fields }

    func child(named name: String) -> Any? { fields[name] }
}

/// An optional seen through `Any`, opened without a Mirror (reflection is the slow part of
/// reading a model).
protocol OptionalValue {
    var wrappedValue: Any? { get }
}

extension Optional: OptionalValue {
    var wrappedValue: Any? { map { $0 as Any } }
}
