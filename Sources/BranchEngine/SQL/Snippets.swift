package import BranchCatalog
import BranchCore
package import Foundation

/// SQL snippets saved in Branch (shared with the project's members) and each member's SQL editor
/// history (their last 50 runs in the project), for the console's SQL editor.
package struct Snippets: EnginePart {
    let context: EngineContext

    /// History entries kept per user and project.
    package static let historyLimit = 50
    static let maximumSQL = 100_000

    /// The project's snippets, then `author`'s history, newest first.
    package func list(project: String, author: String) async throws -> [SnippetRecord] {
        try await catalog.read { tx in
            _ = try tx.requireProject(project)
            return try tx.snippets(project: project, historyOf: author)
        }
    }

    /// Saves a snippet (`kind` "snippet"; `id` replaces an existing one of the project) or records a
    /// history entry (`kind` "history"). A snippet is filed in `folder` ("" for none); replacing
    /// one without a folder keeps the one it had.
    package func save(
        project: String, id: String?, kind: String, name: String, sql: String, folder: String? = nil, author: String
    ) async throws -> SnippetRecord {
        guard kind == "snippet" || kind == "history" else {
            throw EngineError(.invalidRequest, "A snippet's kind is snippet or history, not '\(kind)'.")
        }
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 200 else { throw EngineError(.invalidRequest, "A snippet needs a name of 1 to 200 characters.") }
        guard !sql.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, sql.utf8.count <= Self.maximumSQL else {
            throw EngineError(.invalidRequest, "A snippet's SQL must be 1 to \(Self.maximumSQL) bytes.")
        }
        let folder = folder?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let folder {
            guard kind == "snippet" || folder.isEmpty else { throw EngineError(.invalidRequest, "A history entry has no folder.") }
            guard folder.count <= 100, !folder.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
                throw EngineError(.invalidRequest, "A snippet's folder is at most 100 characters, without line breaks or other control characters.")
            }
        }
        let now = Date()
        return try await catalog.write { tx in
            _ = try tx.requireProject(project)
            var record = SnippetRecord(
                id: Self.newID(), project: project, kind: kind, name: name, sql: sql, folder: folder ?? "", author: author, createdAt: now,
                updatedAt: now)
            if let id, kind == "snippet" {
                guard let existing = try tx.snippet(project: project, id: id), existing.kind == "snippet" else { throw Self.notFound(project, id) }
                record.id = existing.id
                record.folder = folder ?? existing.folder
                record.createdAt = existing.createdAt
                record.author = existing.author
            }
            try tx.save(record, keepHistory: Self.historyLimit)
            return record
        }
    }

    /// Deletes a snippet (or a history entry) of the project.
    package func delete(project: String, id: String) async throws {
        try await catalog.write { tx in
            _ = try tx.requireProject(project)
            guard try tx.deleteSnippet(project: project, id: id) else { throw Self.notFound(project, id) }
        }
    }

    static func notFound(_ project: String, _ id: String) -> EngineError {
        EngineError(.notFound, "Project '\(project)' has no snippet '\(id)'.", hint: "List them with GET /api/v1/projects/\(project)/snippets.")
    }

    private static func newID() -> String {
        (0..<12).map { _ in String("0123456789abcdefghijklmnopqrstuvwxyz".randomElement()!) }.joined()
    }
}
