@testable import BranchConsole
import Foundation
import Mustache
import Testing

/// How pages are rendered and timed: a model read once into nodes renders exactly as the
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

    @Test("a model read into nodes renders as the model itself does, lookups up the stack included")
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
        let tree = try #require(TemplateValues.tree(Self.model) as? TemplateNode)
        #expect(tree.child(named: "missing") == nil)
        let lines = try #require(tree.child(named: "lines") as? [Any])
        let second = try #require(lines[1] as? TemplateNode)
        #expect(second.child(named: "note") == nil)
        #expect(tree.child(named: "tone") as? Tone == .light)
        let labels = try #require(tree.child(named: "labels") as? TemplateNode)
        #expect(labels.child(named: "a") as? String == "x")
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

    /// The diff rows' template before `DiffRowTable.html` replaced it.
    static let diffRowsTemplate = """
        <table class="data diff-rows">
          <caption class="visually-hidden">Changed rows of {{name}}: + added, − removed, a modified row as its old line and its new line</caption>
          <thead><tr>{{#selectable}}<th scope="col"><span class="visually-hidden">Select</span></th>{{/selectable}}<th scope="col"><span class="visually-hidden">Change</span></th>{{#rows.headers}}<th scope="col">{{name}}{{#isKey}} <span class="badge">key</span>{{/isKey}}</th>{{/rows.headers}}</tr></thead>
          <tbody>
          {{#rows.lines}}
          <tr class="{{cssClass}}">
            {{#selectable}}{{#first}}<td rowspan="{{rowspan}}">{{#select}}<input type="checkbox" name="row" value="{{select}}" aria-label="Select this row">{{/select}}</td>{{/first}}{{/selectable}}
            <td class="gutter" aria-label="{{gutterLabel}}">{{gutter}}{{#copies}}<span class="small">{{copies}}</span>{{/copies}}</td>
            {{#cells}}<td class="{{cssClass}}"{{#ariaLabel}} aria-label="{{ariaLabel}}"{{/ariaLabel}}>{{#unknown}}<span class="muted">·</span>{{/unknown}}{{^unknown}}{{#isNull}}<span class="null">NULL</span>{{/isNull}}{{^isNull}}{{#deleted}}<del>{{/deleted}}{{#inserted}}<ins>{{/inserted}}{{#truncated}}<details class="long"><summary>{{short}}…</summary>{{value}}</details>{{/truncated}}{{^truncated}}{{value}}{{/truncated}}{{#inserted}}</ins>{{/inserted}}{{#deleted}}</del>{{/deleted}}{{/isNull}}{{/unknown}}{{#hasPatch}}<ul class="json-patch" aria-label="JSON changes">{{#patch}}<li>{{.}}</li>{{/patch}}</ul>{{/hasPatch}}</td>{{/cells}}
          </tr>
          {{/rows.lines}}
          </tbody>
        </table>
        """

    /// The table editor's rows' template before `TableGridModel.html` replaced it.
    static let gridRowsTemplate = """
        {{#rows}}<tr data-key="{{keyJSON}}">
            {{#cells}}<td class="value{{#isNull}} null{{/isNull}}" data-col="{{column}}"{{#isNull}} data-null="true"{{/isNull}}{{#jump}} data-value="{{value}}"{{/jump}}>{{value}}{{#jump}} <a class="fk-jump" href="{{href}}" aria-label="{{label}}" title="{{label}}">↗</a><button type="button" class="fk-peek ghost small" data-peek="{{href}}" aria-label="Peek: {{label}}" aria-haspopup="dialog" hidden>peek</button>{{/jump}}</td>{{/cells}}
            {{#editHref}}<td class="row-actions"><a href="{{editHref}}" class="small" data-no-prefetch aria-label="Edit row {{keyJSON}} in a form">Edit</a>{{#historyHref}} <a href="{{historyHref}}" class="small" data-no-prefetch aria-label="History of row {{keyJSON}} across snapshots">History</a>{{/historyHref}}</td>{{/editHref}}
          </tr>{{/rows}}
        """

    /// Markup with the white space between tags taken out (where the two spellings differ).
    static func tags(_ html: String) -> String {
        html.replacing(try! Regex(#">\s+<"#), with: "><").replacing(try! Regex(#"^\s+|\s+$"#), with: "")
    }

    static let hostile = "<script>alert('x')</script> & \"q\""

    @Test("the diff rows written in Swift are the markup their template wrote, hostile values escaped")
    func diffRowsAsTheTemplateWrote() throws {
        let cells = [
            DiffRowTable.Cell(value: "7", cssClass: "key"),
            DiffRowTable.Cell(value: Self.hostile, deleted: true, ariaLabel: "changed from 'a' to 'b'", cssClass: "changed old"),
            DiffRowTable.Cell(value: String(repeating: "x", count: 90), short: String(repeating: "x", count: 80), truncated: true, inserted: true,
                              ariaLabel: "a < b", cssClass: "changed new", patch: ["replace /a = \"<b>\""], hasPatch: true),
            DiffRowTable.Cell(value: nil, isNull: true, cssClass: "new"),
            DiffRowTable.Cell(value: nil, unknown: true, ariaLabel: "unchanged", cssClass: "unchanged"),
        ]
        let table = DiffRowTable(
            headers: [.init(name: "id", isKey: true), .init(name: Self.hostile, isKey: false)],
            lines: [
                .init(cssClass: "modified-old", gutter: "−", gutterLabel: "changed row, before", cells: cells, first: true, rowspan: 2,
                      select: #"{"id":"7"}"#, copies: nil),
                .init(cssClass: "added", gutter: "+", gutterLabel: "added row", cells: Array(cells.prefix(2)), first: false, rowspan: 1,
                      select: nil, copies: "×2"),
                .init(cssClass: "removed", gutter: "−", gutterLabel: "removed row", cells: [], first: true, rowspan: 1, select: nil, copies: nil),
            ])
        let template = try MustacheTemplate(string: Self.diffRowsTemplate)
        for selectable in [true, false] {
            struct Context { var name: String; var selectable: Bool; var rows: DiffRowTable }
            let expected = template.render(TemplateValues.tree(Context(name: "public.<t>", selectable: selectable, rows: table)))
            let written = table.html(name: "public.<t>", selectable: selectable).renderText
            #expect(Self.tags(written) == Self.tags(expected))
            #expect(!written.contains("<script>") && written.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"))
        }
    }

    @Test("the table editor's rows written in Swift are the markup their template wrote")
    func gridRowsAsTheTemplateWrote() throws {
        let rows = [
            TableGridModel.Row(keyJSON: #"{"id":"1"}"#, editHref: "/e?a=1&b=2", historyHref: "/h", cells: [
                .init(column: "id", value: "1", isNull: false),
                .init(column: "owner", value: Self.hostile, isNull: false, jump: .init(href: "/t?x=<1>", label: "Open <owner>")),
                .init(column: "note", value: "NULL", isNull: true),
            ]),
            TableGridModel.Row(keyJSON: #"{"id":"2"}"#, editHref: "/e2", historyHref: nil, cells: [.init(column: "id", value: "2", isNull: false)]),
            TableGridModel.Row(keyJSON: "{}", editHref: nil, historyHref: nil, cells: [.init(column: "x'", value: "y", isNull: false)]),
        ]
        struct Context { var rows: [TableGridModel.Row] }
        let expected = try MustacheTemplate(string: Self.gridRowsTemplate).render(TemplateValues.tree(Context(rows: rows)))
        let written = TableGridModel.html(rows).renderText
        #expect(Self.tags(written) == Self.tags(expected))
        #expect(!written.contains("<script>"))
    }

    @Test("HTML escapes as Mustache does, and a name ending in HTML prints nothing but HTML's markup")
    func htmlEscapesAndOnlyHTMLIsUnescaped() throws {
        for value in [Self.hostile, "plain", "", "é <ü> 😀 &&", "'\"'"] {
            var html = HTML()
            html.text(value)
            let mustache = try MustacheTemplate(string: "{{v}}").render(["v": value])
            #expect(html.renderText == mustache)
        }
        struct Model { var okHTML: HTML; var badHTML: String; var plain: String }
        var markup = HTML()
        markup.markup("<b>")
        markup.text("<i>")
        markup.markup("</b>")
        let template = try MustacheTemplate(string: "{{{okHTML}}}|{{{badHTML}}}|{{plain}}|{{okHTML}}")
        let page = template.render(TemplateValues.tree(Model(okHTML: markup, badHTML: "<script>", plain: "<p>")))
        #expect(page == "<b>&lt;i&gt;</b>||&lt;p&gt;|&lt;b&gt;&amp;lt;i&amp;gt;&lt;/b&gt;")
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

