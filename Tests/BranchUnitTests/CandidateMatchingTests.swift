import Testing

@testable import BranchDiff

@Suite("Matching the candidate tuples of a diff by changed pages")
struct CandidateMatchingTests {
    typealias Entry = CandidateMatching.Entry

    static func entry(_ key: String, _ hash: String?) -> (String, Entry) {
        (RowDiffer.keyString([key]), ([key], hash))
    }

    static func rows(_ pairs: (String, String?)...) -> [String: Entry] {
        Dictionary(uniqueKeysWithValues: pairs.map { entry($0.0, $0.1) })
    }

    static func kinds(_ matching: CandidateMatching) -> [String: RowDelta.Kind] {
        Dictionary(uniqueKeysWithValues: matching.differing.values.map { ($0.key[0]!, $0.kind) })
    }

    @Test("both versions in the same blocks: equal hashes are no change, different ones a change")
    func sameBlocks() {
        var matching = CandidateMatching()
        matching.add(left: Self.rows(("1", "a"), ("2", "b")), right: Self.rows(("1", "a"), ("2", "c")))
        #expect(matching.waiting == 0)
        #expect(Self.kinds(matching) == ["2": .changed])
    }

    @Test("a row whose new version is in a later run of blocks waits for it, and is not looked up")
    func movedRowWaits() {
        var matching = CandidateMatching()
        matching.add(left: Self.rows(("7", "old")), right: [:])
        #expect(matching.waiting == 1)
        #expect(matching.leftOnly.keys.contains(RowDiffer.keyString(["7"])))
        matching.add(left: [:], right: Self.rows(("7", "new"), ("8", "x")))
        // 7 met its other version; 8 now waits on the right.
        #expect(matching.leftOnly.isEmpty)
        #expect(matching.rightOnly.count == 1)
        #expect(Self.kinds(matching) == ["7": .changed])
    }

    @Test("a version seen on the right first is matched by a later left one")
    func rightFirst() {
        var matching = CandidateMatching()
        matching.add(left: [:], right: Self.rows(("3", "h")))
        matching.add(left: Self.rows(("3", "h")), right: [:])
        #expect(matching.waiting == 0)
        #expect(matching.differing.isEmpty)
    }

    @Test("what still waits is settled by the lookup: found and equal, found and different, or absent")
    func settle() {
        var matching = CandidateMatching()
        matching.add(left: Self.rows(("1", "a"), ("2", "b"), ("3", "c")), right: Self.rows(("9", "z"), ("10", "y")))
        matching.settle(foundRight: Self.rows(("1", "a"), ("2", "B")), foundLeft: Self.rows(("10", "Y")))
        #expect(matching.waiting == 0)
        #expect(Self.kinds(matching) == ["2": .changed, "3": .removed, "9": .added, "10": .changed])
    }

    @Test("a NULL hash and a text hash differ")
    func nullHash() {
        var matching = CandidateMatching()
        matching.add(left: Self.rows(("1", nil)), right: Self.rows(("1", "a")))
        #expect(Self.kinds(matching) == ["1": .changed])
    }

    @Test("array elements are quoted with backslashes and quotes escaped, anything else kept")
    func quotedArrayElement() {
        #expect(RowDiffer.quotedArrayElement("plain") == "\"plain\"")
        #expect(RowDiffer.quotedArrayElement("") == "\"\"")
        #expect(RowDiffer.quotedArrayElement(#"a"b"#) == #""a\"b""#)
        #expect(RowDiffer.quotedArrayElement(#"c:\dir\"#) == #""c:\\dir\\""#)
        #expect(RowDiffer.quotedArrayElement("ünï \"cödé\" ✓") == "\"ünï \\\"cödé\\\" ✓\"")
    }
}
