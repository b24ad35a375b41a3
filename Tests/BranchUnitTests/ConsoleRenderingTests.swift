@testable import BranchConsole
import Foundation
import Mustache
import Testing

/// How pages are rendered and timed: a model read once into dictionaries renders exactly as the
/// model itself does (Mustache's reflection), the instants forms send, and the Server-Timing header.
@Suite("Console rendering")
struct ConsoleRenderingTests {
    enum Tone: String { case dark, light }

    struct Cell { var value: String?; var isNull: Bool; var marked: Bool }
    struct Line { var cells: [Cell]; var note: String? }
    struct Model {
        var title: String
        var tone: Tone
        var count: Int
        var ratio: Double
        var lines: [Line]
        var selectable: Bool
        var missing: String?
        var labels: [String: String]
    }

    static let template = """
        {{title}} {{tone}} {{count}} {{ratio}} {{#missing}}never{{/missing}}{{^missing}}none{{/missing}} {{labels.a}}
        {{#lines}}[{{#note}}{{.}}: {{/note}}{{#cells}}{{#selectable}}*{{/selectable}}{{^isNull}}{{#marked}}<ins>{{/marked}}{{value}}{{#marked}}</ins>{{/marked}}{{/isNull}}{{#isNull}}NULL{{/isNull}}|{{/cells}}{{title}}]{{/lines}}
        """

    static let model = Model(
        title: "<T&>", tone: .light, count: 3, ratio: 1.5,
        lines: [
            Line(cells: [Cell(value: "a<b", isNull: false, marked: true), Cell(value: nil, isNull: true, marked: false)], note: "first"),
            Line(cells: [Cell(value: "c", isNull: false, marked: false)], note: nil),
        ],
        selectable: true, missing: nil, labels: ["a": "x"])

    @Test("a model read into dictionaries renders as the model itself does, lookups up the stack included")
    func treeRendersTheSame() throws {
        let template = try MustacheTemplate(string: Self.template)
        let direct = template.render(Self.model)
        let tree = template.render(TemplateValues.tree(Self.model))
        #expect(tree == direct)
        #expect(tree.contains("&lt;T&amp;&gt; light 3 1.5 none x"))
        #expect(tree.contains("[first: *<ins>a&lt;b</ins>|*NULL|&lt;T&amp;&gt;][*c|&lt;T&amp;&gt;]"))
    }

    @Test("an optional left out of the tree lets a lookup climb the stack, as reflection does")
    func nilOptionalsAreLeftOut() throws {
        let tree = try #require(TemplateValues.tree(Self.model) as? [String: Any])
        #expect(tree["missing"] == nil)
        let lines = try #require(tree["lines"] as? [Any])
        let second = try #require(lines[1] as? [String: Any])
        #expect(second["note"] == nil)
        #expect(tree["tone"] as? Tone == .light)
    }

    @Test("instants: ISO 8601 with a zone, and a datetime-local field's value read as UTC")
    func instants() {
        let expected = ISO8601DateFormatter().date(from: "2026-01-15T11:45:00Z")
        #expect(Formatting.instant("2026-01-15T11:45:00Z") == expected)
        #expect(Formatting.instant("2026-01-15T12:45:00+01:00") == expected)
        #expect(Formatting.instant("2026-01-15T11:45") == expected)
        #expect(Formatting.instant("2026-01-15 11:45:00") == expected)
        #expect(Formatting.instant("yesterday") == nil)
        #expect(Formatting.instant("2026-01-15") == nil)
    }

    @Test("Server-Timing names each recorded call, then the page's whole time")
    func serverTiming() async {
        let record = ServerTiming.Record()
        await ServerTiming.Record.$current.withValue(record) {
            await ServerTiming.measure("listBranches") { try? await Task.sleep(for: .milliseconds(2)) }
            await ServerTiming.measure("render") {}
            await ServerTiming.measure("bad name; dur=1") {}
        }
        #expect(record.entries.map(\.name) == ["listBranches", "render", "badnamedur1"])
        #expect(record.entries[0].duration >= .milliseconds(2))
        #expect(ServerTiming.milliseconds(.microseconds(12_345)) == "12.3")
    }

    @Test("a diff row table's cells and lines answer every field by name, as reflection would")
    func diffRowsAnswerByName() {
        let cell = DiffRowTable.Cell(value: "v", short: "s", truncated: true, deleted: true, ariaLabel: "a", cssClass: "c", patch: ["p"], hasPatch: true)
        let line = DiffRowTable.Line(cssClass: "c", gutter: "+", gutterLabel: "g", cells: [cell], first: true, rowspan: 2, select: "{}", copies: "×2")
        for (object, parent) in [(cell as Any, cell as any MustacheParent), (line as Any, line as any MustacheParent)] {
            for field in Mirror(reflecting: object).children {
                let label = field.label ?? ""
                #expect((parent.child(named: label) == nil) == (TemplateValues.unwrapped(field.value) == nil), "\(type(of: object)).\(label)")
                #expect(parent.child(named: label) != nil, "\(type(of: object)).\(label) is set in this test, so it must be answered")
            }
        }
    }

    @Test("Run as: the role and the claims set for the run's transaction, as the data API sets them")
    func runAs() throws {
        #expect(try RunAs().preamble(nil) == nil)
        #expect(try RunAs(role: .anon).preamble(nil)
            == #"SELECT set_config('role', 'anon', true), set_config('request.jwt.claims', '{"role":"anon"}', true)"#)
        let user = RunAs.User(id: "11111111-1111-1111-1111-111111111111", email: "o'brien@example.com")
        let preamble = try #require(try RunAs(role: .authenticated, user: "x").preamble(user))
        #expect(preamble.contains(#"'{"aud":"authenticated","email":"o''brien@example.com","role":"authenticated","sub":"11111111-1111-1111-1111-111111111111"}'"#))
        #expect(RunAs(role: .authenticated).description(nil) == "as authenticated (no user: auth.uid() is NULL)")
        #expect(RunAs(FormFields("run_as=authenticated&run_as_user=a%40b.c")) == RunAs(role: .authenticated, user: "a@b.c"))
        #expect(RunAs(FormFields("run_as=anon&run_as_user=ignored")) == RunAs(role: .anon))
        #expect(RunAs(FormFields("run_as=superuser")) == RunAs())
    }
}

