package import Foundation
import GRDB

/// A person who signs in: an email, a scrypt password hash, whether they administer the instance.
package struct UserRecord: Sendable, Hashable {
    package var id: String
    package var email: String
    package var passwordHash: String
    package var isAdmin: Bool
    package var createdAt: Date

    package init(id: String, email: String, passwordHash: String, isAdmin: Bool, createdAt: Date) {
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.isAdmin = isAdmin
        self.createdAt = createdAt
    }
}

/// What a user may do in one project.
package enum ProjectRole: String, Sendable, CaseIterable, Comparable {
    /// Reads: the project, its branches, snapshots, schedules, diffs, migrations, logs.
    case viewer
    /// Also changes data and branches: branches, snapshots, restores, merges, SQL, migrations, connections.
    case developer
    /// Also the project itself: settings, keys, members, deletion.
    case owner

    private var rank: Int { ProjectRole.allCases.firstIndex(of: self)! }
    package static func < (lhs: ProjectRole, rhs: ProjectRole) -> Bool { lhs.rank < rhs.rank }
}

/// A user's role in a project.
package struct MembershipRecord: Sendable, Hashable {
    package var userID: String
    package var project: String
    package var role: ProjectRole

    package init(userID: String, project: String, role: ProjectRole) {
        self.userID = userID
        self.project = project
        self.role = role
    }
}

/// A management token: stored only as the SHA-256 of its text; scoped to the instance (whatever
/// its user may do) or to one project with a role (at most the user's own there).
package struct TokenRecord: Sendable, Hashable {
    package var id: String
    package var userID: String
    /// Hex SHA-256 of the token's text.
    package var hash: String
    package var name: String
    package var project: String?
    package var role: ProjectRole?
    package var createdAt: Date
    package var expiresAt: Date?
    package var lastUsedAt: Date?
    package var revokedAt: Date?

    package init(
        id: String, userID: String, hash: String, name: String, project: String?, role: ProjectRole?, createdAt: Date, expiresAt: Date?,
        lastUsedAt: Date? = nil, revokedAt: Date? = nil
    ) {
        self.id = id
        self.userID = userID
        self.hash = hash
        self.name = name
        self.project = project
        self.role = role
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}

/// One mutating request, as the audit log keeps it.
package struct AuditRecord: Sendable, Hashable {
    package var id: Int64?
    package var at: Date
    /// Who: `user@example.com (token tk_…)`, `service_role key of P`, `admin key`.
    package var actor: String
    package var userID: String?
    package var tokenID: String?
    /// The operation (`createBranch`, `applyMigration`, …).
    package var action: String
    package var method: String
    package var path: String
    package var project: String?
    package var address: String?
    package var status: Int
    /// `ok`, or the error's code.
    package var outcome: String

    package init(
        at: Date, actor: String, userID: String?, tokenID: String?, action: String, method: String, path: String, project: String?,
        address: String?, status: Int, outcome: String
    ) {
        self.at = at
        self.actor = actor
        self.userID = userID
        self.tokenID = tokenID
        self.action = action
        self.method = method
        self.path = path
        self.project = project
        self.address = address
        self.status = status
        self.outcome = outcome
    }
}

enum IdentityTables {
    static func migrate(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE user (
                id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE, password_hash TEXT NOT NULL,
                is_admin INTEGER NOT NULL DEFAULT 0, created_at DATETIME NOT NULL);
            CREATE TABLE membership (
                user_id TEXT NOT NULL REFERENCES user(id) ON DELETE CASCADE, project TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('viewer', 'developer', 'owner')), PRIMARY KEY (user_id, project));
            CREATE TABLE token (
                id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES user(id) ON DELETE CASCADE, hash TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL, project TEXT, role TEXT CHECK (role IS NULL OR role IN ('viewer', 'developer', 'owner')),
                created_at DATETIME NOT NULL, expires_at DATETIME, last_used_at DATETIME, revoked_at DATETIME);
            CREATE TABLE audit (
                id INTEGER PRIMARY KEY AUTOINCREMENT, at DATETIME NOT NULL, actor TEXT NOT NULL, user_id TEXT, token_id TEXT,
                action TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, project TEXT, address TEXT, status INTEGER NOT NULL,
                outcome TEXT NOT NULL);
            CREATE INDEX audit_project ON audit (project, at);
            CREATE INDEX audit_at ON audit (at);
            """)
    }
}

extension CatalogTransaction {
    // MARK: Users

    package func users() throws -> [UserRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM user ORDER BY email").map(Self.user)
    }

    package func user(id: String) throws -> UserRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM user WHERE id = ?", arguments: [id]).map(Self.user)
    }

    package func user(email: String) throws -> UserRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM user WHERE email = ?", arguments: [email]).map(Self.user)
    }

    package func insert(_ user: UserRecord) throws {
        try db.execute(
            sql: "INSERT INTO user (id, email, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [user.id, user.email, user.passwordHash, user.isAdmin, user.createdAt])
    }

    package func setPassword(userID: String, hash: String) throws {
        try db.execute(sql: "UPDATE user SET password_hash = ? WHERE id = ?", arguments: [hash, userID])
    }

    package func setEmail(userID: String, email: String) throws {
        try db.execute(sql: "UPDATE user SET email = ? WHERE id = ?", arguments: [email, userID])
    }

    /// Deletes the user with their memberships and tokens.
    package func deleteUser(id: String) throws {
        try db.execute(sql: "DELETE FROM token WHERE user_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM membership WHERE user_id = ?", arguments: [id])
        try db.execute(sql: "DELETE FROM user WHERE id = ?", arguments: [id])
    }

    private static func user(_ row: Row) -> UserRecord {
        UserRecord(id: row["id"], email: row["email"], passwordHash: row["password_hash"], isAdmin: row["is_admin"], createdAt: row["created_at"])
    }

    // MARK: Memberships

    package func memberships(userID: String) throws -> [MembershipRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM membership WHERE user_id = ? ORDER BY project", arguments: [userID]).compactMap(Self.membership)
    }

    package func memberships(project: String) throws -> [MembershipRecord] {
        try Row.fetchAll(db, sql: "SELECT * FROM membership WHERE project = ? ORDER BY user_id", arguments: [project]).compactMap(Self.membership)
    }

    package func setMembership(_ membership: MembershipRecord) throws {
        try db.execute(
            sql: "INSERT INTO membership (user_id, project, role) VALUES (?, ?, ?) ON CONFLICT (user_id, project) DO UPDATE SET role = excluded.role",
            arguments: [membership.userID, membership.project, membership.role.rawValue])
    }

    package func deleteMembership(userID: String, project: String) throws {
        try db.execute(sql: "DELETE FROM membership WHERE user_id = ? AND project = ?", arguments: [userID, project])
    }

    /// Removes every membership and project-scoped token of a deleted project.
    package func forgetProject(_ project: String) throws {
        try db.execute(sql: "DELETE FROM membership WHERE project = ?", arguments: [project])
        try db.execute(sql: "DELETE FROM token WHERE project = ?", arguments: [project])
    }

    private static func membership(_ row: Row) -> MembershipRecord? {
        guard let role = ProjectRole(rawValue: row["role"]) else { return nil }
        return MembershipRecord(userID: row["user_id"], project: row["project"], role: role)
    }

    // MARK: Tokens

    package func insert(_ token: TokenRecord) throws {
        try db.execute(
            sql: """
                INSERT INTO token (id, user_id, hash, name, project, role, created_at, expires_at, last_used_at, revoked_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                token.id, token.userID, token.hash, token.name, token.project, token.role?.rawValue, token.createdAt, token.expiresAt,
                token.lastUsedAt, token.revokedAt,
            ])
    }

    package func token(hash: String) throws -> TokenRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM token WHERE hash = ?", arguments: [hash]).map(Self.token)
    }

    package func token(id: String) throws -> TokenRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM token WHERE id = ?", arguments: [id]).map(Self.token)
    }

    package func tokens(userID: String?) throws -> [TokenRecord] {
        if let userID {
            return try Row.fetchAll(db, sql: "SELECT * FROM token WHERE user_id = ? ORDER BY created_at", arguments: [userID]).map(Self.token)
        }
        return try Row.fetchAll(db, sql: "SELECT * FROM token ORDER BY created_at").map(Self.token)
    }

    package func revokeToken(id: String, at date: Date) throws {
        try db.execute(sql: "UPDATE token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [date, id])
    }

    /// Revokes a user's tokens of one name (their console sessions) but `except`.
    package func revokeTokens(userID: String, named name: String, except: String, at date: Date) throws {
        try db.execute(
            sql: "UPDATE token SET revoked_at = ? WHERE user_id = ? AND name = ? AND id <> ? AND revoked_at IS NULL",
            arguments: [date, userID, name, except])
    }

    package func touchToken(id: String, at date: Date) throws {
        try db.execute(sql: "UPDATE token SET last_used_at = ? WHERE id = ?", arguments: [date, id])
    }

    private static func token(_ row: Row) -> TokenRecord {
        TokenRecord(
            id: row["id"], userID: row["user_id"], hash: row["hash"], name: row["name"], project: row["project"],
            role: (row["role"] as String?).flatMap(ProjectRole.init), createdAt: row["created_at"], expiresAt: row["expires_at"],
            lastUsedAt: row["last_used_at"], revokedAt: row["revoked_at"])
    }

    // MARK: Audit

    package func insert(_ entry: AuditRecord) throws {
        try db.execute(
            sql: """
                INSERT INTO audit (at, actor, user_id, token_id, action, method, path, project, address, status, outcome)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                entry.at, entry.actor, entry.userID, entry.tokenID, entry.action, entry.method, entry.path, entry.project, entry.address,
                entry.status, entry.outcome,
            ])
    }

    /// Entries, oldest first, since `since` (and of `project`), at most `limit`.
    package func audit(project: String?, since: Date?, limit: Int) throws -> [AuditRecord] {
        var clauses: [String] = [], arguments: StatementArguments = []
        if let project {
            clauses.append("project = ?")
            _ = arguments.append(contentsOf: [project])
        }
        if let since {
            clauses.append("at >= ?")
            _ = arguments.append(contentsOf: [since])
        }
        let filter = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        _ = arguments.append(contentsOf: [limit])
        return try Row.fetchAll(db, sql: "SELECT * FROM (SELECT * FROM audit \(filter) ORDER BY id DESC LIMIT ?) ORDER BY id", arguments: arguments)
            .map { row in
                var entry = AuditRecord(
                    at: row["at"], actor: row["actor"], userID: row["user_id"], tokenID: row["token_id"], action: row["action"],
                    method: row["method"], path: row["path"], project: row["project"], address: row["address"], status: row["status"],
                    outcome: row["outcome"])
                entry.id = row["id"]
                return entry
            }
    }

    /// Deletes entries older than `date`.
    package func pruneAudit(before date: Date) throws {
        try db.execute(sql: "DELETE FROM audit WHERE at < ?", arguments: [date])
    }
}
