import BranchAPI
import Foundation
import OpenAPIRuntime

/// Fixed, parameterised SQL run on a branch through `runSQL` (as the signed-in user, so only
/// developers and owners get answers): the database page's catalog reads and the auth users page.
/// A viewer's reads go through the read-only `querySQL`.
struct ProjectSQL: Sendable {
    let environment: ConsoleEnvironment
    let project: String
    let branch: String

    /// The rows of the first statement's result, every value as text (nil for SQL NULL).
    func rows(_ query: String, _ params: [String?] = [], readOnly: Bool = true, changes: Bool = false) async throws -> [[String?]] {
        let project = project, branch = branch
        let values = try params.map { try OpenAPIValueContainer(unvalidatedValue: $0) }
        let body = Components.Schemas.SQLRequest(params: values.isEmpty ? nil : values, query: query, readOnly: readOnly, timeoutMs: 10_000)
        let response = if EditorSQL.readsAsViewer(project: project, readOnly: readOnly, changes: changes) {
            try await environment.call("querySQL", project: project) { api in
                try await api.querySQL(.init(path: .init(project: project, branch: branch), body: .json(body))).ok.body.json
            }
        } else {
            try await environment.call("runSQL", project: project, changes: changes) { api in
                try await api.runSQL(.init(path: .init(project: project, branch: branch), body: .json(body))).ok.body.json
            }
        }
        return (response.results.first?.rows ?? []).map { $0.map { Self.text($0.value) } }
    }

    /// A JSON value as the page shows it.
    static func text(_ value: (any Sendable)?) -> String? {
        switch value {
        case nil: nil
        case let string as String: string
        case let bool as Bool: bool ? "true" : "false"
        case let int as Int: String(int)
        case let double as Double: double.rounded() == double && abs(double) < 1e15 ? String(Int(double)) : String(double)
        case let other?:
            (try? JSONSerialization.data(withJSONObject: other, options: [.fragmentsAllowed, .sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
                ?? "\(other)"
        }
    }
}
