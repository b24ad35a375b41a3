import BranchAPI
@testable import BranchConsole
import Testing

/// Word diffs of the diff page's text cells and line diffs of schema definitions.
@Suite("Console text diff")
struct ConsoleTextDiffTests {
    /// A side written back with its changed parts in brackets.
    static func marked(_ parts: [TextDiff.Part]) -> String {
        parts.map { $0.changed ? "[\($0.text)]" : $0.text }.joined()
    }

    @Test("a changed word is marked on each side; the rest stays plain, and the parts are the whole text")
    func words() throws {
        let (old, new) = try #require(TextDiff.words("the quick brown fox", "the slow brown fox jumps"))
        #expect(Self.marked(old) == "the [quick] brown fox")
        #expect(Self.marked(new) == "the [slow] brown fox[ jumps]")
        #expect(old.map(\.text).joined() == "the quick brown fox" && new.map(\.text).joined() == "the slow brown fox jumps")
    }

    @Test("a replaced phrase is one mark, spaces inside it included")
    func phrase() throws {
        let (old, new) = try #require(TextDiff.words("ship it on monday morning please", "ship it next tuesday evening please"))
        #expect(Self.marked(old) == "ship it [on monday morning] please")
        #expect(Self.marked(new) == "ship it [next tuesday evening] please")
    }

    @Test("no word diff for single words, texts sharing only spaces, or texts past the token limit")
    func wholeValue() {
        #expect(TextDiff.words("main@example.com", "changed@example.com") == nil)
        #expect(TextDiff.words("a b", "c d") == nil)
        let long = Array(repeating: "w", count: TextDiff.tokenLimit).joined(separator: " ")
        #expect(TextDiff.words(long, long + " x") == nil)
        #expect(TextDiff.words("", "one two") == nil)
    }

    @Test("lines: the ones the other side lacks are marked, trailing spaces and the last line's break ignored")
    func lines() {
        let before = "CREATE TABLE t (\n  id bigint,\n  name text\n)"
        let after = "CREATE TABLE t (\n  id bigint,  \n  name varchar(40),\n  note text\n)\n"
        let (old, new) = TextDiff.lines(before, after)
        #expect(old.filter(\.changed).map(\.text) == ["  name text\n"])
        #expect(new.filter(\.changed).map(\.text) == ["  name varchar(40),\n", "  note text\n"])
        #expect(old.map(\.text).joined() == before && new.map(\.text).joined() == after)
    }

    @Test("the diff page marks only a text cell's changed words, escaped, and keeps whole-value marks for single words")
    func rowTable() {
        let row = DiffReader.Row(
            change: "changed",
            columns: [
                .init(column: "bio", new: "likes <b>tea</b> a lot", old: "likes coffee a lot"),
                .init(column: "email", new: "b@x.io", old: "a@x.io"),
            ],
            key: .init(additionalProperties: ["id": "1"]), table: "public.people")
        let html = DiffRowTable(rows: [row], onlyChanged: true).html(name: "public.people", selectable: false).renderText
        #expect(html.contains("likes <del>coffee</del> a lot") && html.contains("likes <ins>&lt;b&gt;tea&lt;/b&gt;</ins> a lot"))
        #expect(html.contains("<del>a@x.io</del>") && html.contains("<ins>b@x.io</ins>"))
        #expect(html.contains("changed words old") || html.contains("changed old words"))
    }
}
