import BranchAPI
import BranchCatalog
import BranchEngine
import Foundation

// Saved SQL snippets and SQL editor history: any member lists them; developers save and delete.
extension APIHandlers {
    func listSnippets(_ input: Operations.ListSnippets.Input) async throws -> Operations.ListSnippets.Output {
        let caller = APICaller.current
        try caller.require(.viewer, in: input.path.project)
        let records = try await engine.snippets.list(project: input.path.project, author: Self.snippetAuthor(caller))
        return .ok(.init(body: .json(.init(snippets: records.map(Schemas.Snippet.init)))))
    }

    func saveSnippet(_ input: Operations.SaveSnippet.Input) async throws -> Operations.SaveSnippet.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let caller = APICaller.current
        try caller.require(.developer, in: input.path.project)
        let record = try await engine.snippets.save(
            project: input.path.project, id: body.id, kind: body.kind ?? "snippet", name: body.name, sql: body.sql, folder: body.folder,
            author: Self.snippetAuthor(caller))
        return .created(.init(body: .json(.init(record))))
    }

    func deleteSnippet(_ input: Operations.DeleteSnippet.Input) async throws -> Operations.DeleteSnippet.Output {
        try APICaller.current.require(.developer, in: input.path.project)
        let started = Date()
        try await engine.snippets.delete(project: input.path.project, id: input.path.snippet)
        let timing = Schemas.OperationTiming(durationMs: Date().timeIntervalSince(started) * 1000, id: UUID().uuidString.lowercased(), steps: [])
        return .ok(.init(body: .json(.init(deleted: [input.path.snippet], operation: timing))))
    }

    /// Whose history a caller's runs are: the user's email, else how the audit log names them.
    static func snippetAuthor(_ caller: APICaller) -> String {
        caller.principal?.user.email ?? caller.label
    }
}

extension Schemas.Snippet {
    init(_ record: SnippetRecord) {
        self.init(
            author: record.author, createdAt: record.createdAt, id: record.id, kind: record.kind, name: record.name, sql: record.sql,
            updatedAt: record.updatedAt, folder: record.folder)
    }
}
