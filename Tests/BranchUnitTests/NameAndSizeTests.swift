import BranchCore
import Testing

@Suite("Resource names")
struct ResourceNameTests {
    @Test("accepts lowercase letters, digits and hyphens", arguments: ["main", "feature-x", "a", "0day", String(repeating: "a", count: 63)])
    func accepts(_ name: String) throws {
        #expect(try ResourceName(validating: name).rawValue == name)
    }

    @Test(
        "rejects anything that could escape a path or collide",
        arguments: [
            "", "Main", "under_score", "../etc", "a/b", "-lead", ".", "..", "with space", "é", "x\u{0}y",
            String(repeating: "a", count: 64), "postgres", "pgbouncer", "template1",
        ])
    func rejects(_ name: String) {
        #expect(throws: NameError.self) { try ResourceName(validating: name) }
    }

    @Test("errors carry a stable code and a hint")
    func errorShape() {
        do {
            _ = try ResourceName(validating: "Bad_Name", kind: "branch name")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidName)
            #expect(error.category == .invalidInput)
            #expect(error.message.contains("branch name"))
            #expect(error.hint != nil)
        }
    }

    @Test("decoding validates")
    func decoding() throws {
        let json = Data(#"["ok", "NOT-OK"]"#.utf8)
        #expect(throws: (any Error).self) { try JSONDecoder().decode([ResourceName].self, from: json) }
    }
}

@Suite("Byte counts")
struct ByteCountTests {
    @Test func parses() {
        #expect(ByteCount.parse("20G") == 20 << 30)
        #expect(ByteCount.parse("512M") == 512 << 20)
        #expect(ByteCount.parse("1.5GiB") == 3 << 29)
        #expect(ByteCount.parse("1024") == 1024)
        #expect(ByteCount.parse("12X") == nil)
        #expect(ByteCount.parse("") == nil)
    }

    @Test func formats() {
        #expect(ByteCount.format(0) == "0 B")
        #expect(ByteCount.format(1536) == "1.5 KB")
        #expect(ByteCount.format(20 << 30) == "20.0 GB")
        #expect(ByteCount.format(300 << 20) == "300 MB")
    }
}

import Foundation
