@testable import BranchConsole
import Testing

/// The table editor's row history: versions newest first, each cell marked where it differs from
/// the version before it, rows that appear and disappear, and points that could not be read.
@Suite("Console table editor: row history")
struct ConsoleRowHistoryTests {
    func reading(_ label: String, _ values: [String: String?]?, note: String? = nil) -> RowHistory.Reading {
        .init(label: label, when: label, diffHref: nil, values: values, note: note)
    }

    @Test("changed cells carry their old value; inserted, deleted and unreadable versions are said")
    func versions() {
        let history = RowHistory(
            readings: [
                reading("s1", nil),
                reading("s2", ["id": "1", "v": "a"]),
                reading("s3", nil, note: "not readable: table missing"),
                reading("s4", ["id": "1", "v": nil]),
                reading("s5", nil),
                reading("now", ["id": "1", "v": nil]),
            ],
            columns: ["id", "v"])
        #expect(history.versions.map(\.label) == ["now", "s5", "s4", "s3", "s2", "s1"])
        #expect(history.versions.map(\.summary) == [
            "row inserted", "row deleted", "1 cell changed", "not readable: table missing", "row inserted", "no row",
        ])
        let s4 = history.versions[2]
        #expect(s4.cells.map(\.changed) == [false, true])
        #expect(s4.cells[1].isNull && s4.cells[1].value == "NULL" && s4.cells[1].label == "changed from a")
        // The unreadable s3 is skipped: s4 compares with s2.
        #expect(history.changes == 4)
        #expect(history.changesText == "4 versions changed it.")
        #expect(history.versions[5].exists == false && history.versions[0].exists)
    }

    @Test("the first version is seen, not changed; an unchanged one says so")
    func firstAndUnchanged() {
        let history = RowHistory(readings: [reading("s1", ["v": "x"]), reading("now", ["v": "x"])], columns: ["v"])
        #expect(history.versions.map(\.summary) == ["unchanged", "first seen"])
        #expect(history.changes == 0 && history.changesText == "0 versions changed it.")
    }
}
