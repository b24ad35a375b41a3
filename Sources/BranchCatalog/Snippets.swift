package import Foundation
import GRDB

/// A saved SQL snippet of a project, shared with its members (`kind` "snippet"), or one entry of
/// a member's SQL editor history (`kind` "history", the last 50 per user and project kept).
package struct SnippetRecord: Sendable, Equatable {
    package var id: String
    package var project: String
    package var kind: String
    package var name: String
    package var sql: String
    /// The folder it is filed in on the SQL editor's list ("" for none; history entries have none).
    package var folder: String
    /// Who saved it (a user's email, or how the audit log names the caller).
    package var author: String
    package var createdAt: Date
    package var updatedAt: Date

    package init(
        id: String, project: String, kind: String, name: String, sql: String, folder: String = "", author: String, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.folder = folder
        self.project = project
        self.kind = kind
        self.name = name
        self.sql = sql
        self.author = author
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The table behind `SnippetRecord` (v10); rows go with their project.
enum SnippetTable {
    static func migrate(_ db: Database) throws {
        try db.create(table: "snippet") { t in
            t.column("id", .text).primaryKey()
            t.column("project", .text).notNull().references("project", onDelete: .cascade)
            t.column("kind", .text).notNull()
            t.column("name", .text).notNull()
            t.column("sql", .text).notNull()
            t.column("author", .text).notNull()
            t.column("created_at", .datetime).notNull()
            t.column("updated_at", .datetime).notNull()
        }
        try db.create(index: "snippet_by_project", on: "snippet", columns: ["project", "kind", "author", "updated_at"])
    }

    /// v13: snippets filed in folders.
    static func addFolders(_ db: Database) throws {
        try db.alter(table: "snippet") { t in t.add(column: "folder", .text).notNull().defaults(to: "") }
    }
}

extension CatalogTransaction {
    /// A project's shared snippets (by folder, then name), then `author`'s history (newest first).
    package func snippets(project: String, historyOf author: String) throws -> [SnippetRecord] {
        let shared = try Row.fetchAll(db, sql: "SELECT * FROM snippet WHERE project = ? AND kind = 'snippet' ORDER BY folder, name, id", arguments: [project])
        let history = try Row.fetchAll(
            db, sql: "SELECT * FROM snippet WHERE project = ? AND kind = 'history' AND author = ? ORDER BY updated_at DESC, id DESC",
            arguments: [project, author])
        return (shared + history).map(Self.snippet)
    }

    package func snippet(project: String, id: String) throws -> SnippetRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM snippet WHERE project = ? AND id = ?", arguments: [project, id]).map(Self.snippet)
    }

    /// Inserts or replaces a snippet; a history entry also prunes its author's history to `keepHistory` entries.
    package func save(_ snippet: SnippetRecord, keepHistory: Int) throws {
        try db.execute(
            sql: """
                INSERT INTO snippet (id, project, kind, name, sql, folder, author, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name, sql = excluded.sql, folder = excluded.folder, updated_at = excluded.updated_at
                """,
            arguments: [
                snippet.id, snippet.project, snippet.kind, snippet.name, snippet.sql, snippet.folder, snippet.author, snippet.createdAt,
                snippet.updatedAt,
            ])
        guard snippet.kind == "history" else { return }
        try db.execute(
            sql: """
                DELETE FROM snippet WHERE project = ? AND kind = 'history' AND author = ? AND id NOT IN (
                    SELECT id FROM snippet WHERE project = ? AND kind = 'history' AND author = ? ORDER BY updated_at DESC, id DESC LIMIT ?)
                """,
            arguments: [snippet.project, snippet.author, snippet.project, snippet.author, keepHistory])
    }

    /// Deletes a snippet; false when the project has none with that id.
    package func deleteSnippet(project: String, id: String) throws -> Bool {
        try db.execute(sql: "DELETE FROM snippet WHERE project = ? AND id = ?", arguments: [project, id])
        return db.changesCount > 0
    }

    private static func snippet(_ row: Row) -> SnippetRecord {
        SnippetRecord(
            id: row["id"], project: row["project"], kind: row["kind"], name: row["name"], sql: row["sql"], folder: row["folder"], author: row["author"],
            createdAt: row["created_at"], updatedAt: row["updated_at"])
    }
}
