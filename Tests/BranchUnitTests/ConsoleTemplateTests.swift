@testable import BranchConsole
import Foundation
import Mustache
import Testing

/// The console's embedded templates and code: every template parses, none can emit unescaped
/// text (so data from a database never becomes markup), every partial a template names exists,
/// and CSS plus JS stays within the issue's 150 KB.
@Suite("Console templates")
struct ConsoleTemplateTests {
    static let templates: [(name: String, text: String)] = consoleAssetTexts
        .filter { $0.key.hasPrefix("templates/") && $0.key.hasSuffix(".mustache") }
        .map { (String($0.key.dropFirst("templates/".count).dropLast(".mustache".count)), $0.value) }
        .sorted { $0.name < $1.name }

    @Test("the console ships its templates, starting with the layout and the sign-in screens")
    func templatesShip() {
        let names = Set(Self.templates.map(\.name))
        for expected in ["layout", "login", "setup", "error", "projects"] {
            #expect(names.contains(expected), "templates/\(expected).mustache is not embedded")
        }
    }

    @Test("every template parses")
    func everyTemplateParses() {
        for template in Self.templates {
            #expect(throws: Never.self, "templates/\(template.name).mustache") { _ = try MustacheTemplate(string: template.text) }
        }
    }

    /// swift-mustache indents everything a standalone partial or block tag with leading blanks
    /// renders, and to do so counts the characters of every piece it renders inside: the layout's
    /// indented `{{$main}}` made every page's render several times slower.
    @Test("no partial, block or parent tag is indented on its own line")
    func noIndentedPartials() {
        for template in Self.templates {
            for line in template.text.split(separator: "\n", omittingEmptySubsequences: false) {
                let trimmed = line.drop { $0 == " " || $0 == "\t" }
                let indented = trimmed.count < line.count
                let tag = ["{{>", "{{$", "{{<"].contains { trimmed.hasPrefix($0) }
                #expect(!(indented && tag), "templates/\(template.name).mustache: \(line)")
            }
        }
    }

    /// `{{{x}}}` and `{{&x}}` print without escaping; `{{=…=}}` changes the delimiters, which
    /// would let an unescaped tag through under another spelling. The one exception is
    /// `{{{nameHTML}}}`, which only markup built by `HTML` reaches (see ConsoleRenderingTests).
    @Test("no template prints unescaped text or changes the delimiters, but markup built by HTML")
    func everythingEscaped() throws {
        let markup = try Regex(#"\{\{\{[A-Za-z.]*HTML\}\}\}"#)
        for template in Self.templates {
            let text = template.text.replacing(markup, with: "")
            for form in ["{{{", "{{&", "{{="] {
                #expect(!text.contains(form), "templates/\(template.name).mustache uses \(form)")
            }
        }
    }

    @Test("every partial or parent a template names exists")
    func partialsExist() throws {
        let names = Set(Self.templates.map(\.name))
        let reference = try Regex(#"\{\{\s*[<>]\s*([A-Za-z0-9_./-]+)\s*\}\}"#)
        var references = 0
        for template in Self.templates {
            for match in template.text.matches(of: reference) {
                let name = String(match.output[1].substring ?? "")
                references += 1
                #expect(names.contains(name), "templates/\(template.name).mustache names the missing template \(name)")
            }
        }
        #expect(references > 0, "pages extend the layout with {{<layout}}")
    }

    @Test("the whole library loads, as the service does at start-up")
    func libraryLoads() {
        let library = Templates().library
        for template in Self.templates {
            #expect(library.getTemplate(named: template.name) != nil, "templates/\(template.name).mustache")
        }
    }

    @Test("CSS plus JS is at most 150 KB, and every page area's file is in the one stylesheet")
    func codeBudget() throws {
        let assets = StaticAssets()
        #expect(assets.codeSize > 0)
        #expect(assets.codeSize <= 150 * 1024, "CSS + JS is \(assets.codeSize) bytes")
        let stylesheet = try #require(assets.assets["console.css"]).body
        for (path, text) in consoleAssetTexts where path.hasPrefix("css/") {
            #expect(stylesheet.contains(text), "\(path) is missing from console.css")
        }
        #expect(stylesheet.hasPrefix(try #require(consoleAssetTexts["css/console.css"])), "the base stylesheet comes first")
    }
}
