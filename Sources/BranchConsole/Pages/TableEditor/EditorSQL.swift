import BranchAPI
import Foundation
import OpenAPIRuntime

/// SQL on one branch through the `runSQL` operation, as the signed-in user (developers and
/// owners; the gateway refuses viewers): the table and SQL editors' only way to the data. A
/// viewer's reads go through `querySQL` instead: a read-only transaction that is rolled back.
struct EditorSQL: Sendable {
    /// One statement's answer with every value as text (nil for SQL NULL).
    struct Result: Sendable {
        var command: String
        var columns: [(name: String, type: String)]
        var rows: [[String?]]
        var rowCount: Int
        var durationMs: Double
        var notices: [String]
        var truncated: Bool
    }

    let environment: ConsoleEnvironment
    let project: String
    let branch: String

    /// Runs `query` (with `params` for `$1`…, then one statement); `changes` marks a write for the audit log.
    func run(
        _ query: String, _ params: [String?] = [], readOnly: Bool = true, changes: Bool = false, timeoutMs: Int = 30_000
    ) async throws -> [Result] {
        let project = project, branch = branch
        let values = try params.map { try OpenAPIValueContainer(unvalidatedValue: $0) }
        let body = Components.Schemas.SQLRequest(params: values.isEmpty ? nil : values, query: query, readOnly: readOnly, timeoutMs: timeoutMs)
        let response = if Self.readsAsViewer(project: project, readOnly: readOnly, changes: changes) {
            try await environment.call("querySQL", project: project) { api in
                try await api.querySQL(.init(path: .init(project: project, branch: branch), body: .json(body))).ok.body.json
            }
        } else {
            try await environment.call("runSQL", project: project, changes: changes, target: changes ? branch : nil) { api in
                try await api.runSQL(.init(path: .init(project: project, branch: branch), body: .json(body))).ok.body.json
            }
        }
        return response.results.map { result in
            Result(
                command: result.command, columns: result.columns.map { ($0.name, $0._type) },
                rows: result.rows.map { $0.map { Self.text($0.value) } }, rowCount: result.rowCount, durationMs: result.durationMs,
                notices: result.notices, truncated: result.truncated)
        }
    }

    /// Whether a read by the signed-in user goes through `querySQL`: they are a viewer (below
    /// developer) and it changes nothing. Developers keep `runSQL`.
    static func readsAsViewer(project: String, readOnly: Bool, changes: Bool) -> Bool {
        readOnly && !changes && !(ConsoleSession.current?.viewer.may(.developer, in: project) ?? false)
    }

    /// The rows of the first statement.
    func rows(_ query: String, _ params: [String?] = []) async throws -> [[String?]] {
        try await run(query, params).first?.rows ?? []
    }

    /// A JSON value as the editors show it.
    static func text(_ value: (any Sendable)?) -> String? {
        switch value {
        case nil: nil
        case let string as String: string
        case let bool as Bool: bool ? "true" : "false"
        case let int as Int: String(int)
        case let double as Double: double.rounded() == double && abs(double) < 1e15 ? String(Int(double)) : String(double)
        case let other?:
            (try? JSONSerialization.data(withJSONObject: other, options: [.fragmentsAllowed, .sortedKeys]))
                .map { String(decoding: $0, as: UTF8.self) } ?? "\(other)"
        }
    }
}
