import BranchCore
@testable import BranchServer
import Foundation
import Testing

@Suite("Error codes")
struct ErrorCodeTests {
    /// The rows of docs/api.md's error table: code → the status column.
    static func documented() throws -> [String: String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/api.md"), encoding: .utf8)
        var rows: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, cells[0].hasPrefix("`"), cells[0].hasSuffix("`") else { continue }
            let code = String(cells[0].dropFirst().dropLast())
            guard code.allSatisfy({ $0.isLowercase || $0 == "_" }), Int(cells[1]) != nil || cells[1] == "the error's" else { continue }
            rows[code] = cells[1]
        }
        return rows
    }

    @Test("docs/api.md lists every code the service reports, and only those")
    func documentedCodes() throws {
        let documented = Set(try Self.documented().keys)
        let codes = Set(ErrorCode.allCases.map(\.rawValue))
        #expect(codes.subtracting(documented).sorted() == [], "codes missing from docs/api.md")
        #expect(documented.subtracting(codes).sorted() == [], "documented codes the service does not have")
    }

    @Test("each documented status is the one the server answers with")
    func documentedStatuses() throws {
        for (code, status) in try Self.documented() {
            guard let known = ErrorCode(rawValue: code), let number = Int(status) else { continue }
            #expect(known.category.httpStatus == number, "\(code): documented \(number), served \(known.category.httpStatus)")
        }
    }

    @Test("codes are unique snake_case")
    func spelling() {
        let raw = ErrorCode.allCases.map(\.rawValue)
        #expect(Set(raw).count == raw.count)
        for code in raw { #expect(code.allSatisfy { $0.isLowercase || $0 == "_" }, "\(code)") }
    }
}
