package import BranchCore
package import Foundation
import GRDB
import Synchronization

/// A project's JWT secret, which signs its anon and service_role keys and its users' access
/// tokens, and when those keys were issued (their `iat`). Kept in the project's row but outside
/// `ProjectRecord`, so a record read before a rotation and written back later cannot restore an
/// old secret: only the methods below write it.
package struct ProjectJWTSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    package var secret: String
    package var issuedAt: Date
    /// When the anon and service_role keys were re-issued after a revocation (nil: at `issuedAt`).
    package var anonIssuedAt: Date?
    package var serviceRoleIssuedAt: Date?

    package init(secret: String, issuedAt: Date, anonIssuedAt: Date? = nil, serviceRoleIssuedAt: Date? = nil) {
        self.secret = secret
        self.issuedAt = issuedAt
        self.anonIssuedAt = anonIssuedAt
        self.serviceRoleIssuedAt = serviceRoleIssuedAt
    }

    /// Never the secret itself, in a log line or an error.
    package var description: String { "ProjectJWTSecret(issuedAt: \(issuedAt))" }
    package var debugDescription: String { description }
    package var customMirror: Mirror { Mirror(self, children: ["issuedAt": issuedAt], displayStyle: .struct) }
}

/// The project's two long-lived keys.
package enum ProjectKeyRole: String, Sendable, CaseIterable {
    case anon
    case serviceRole = "service_role"
}

extension CatalogTransaction {
    /// The project's JWT secret, whatever its state; nil when there is no such project or it has none yet.
    package func jwtSecret(of project: ResourceName) throws -> ProjectJWTSecret? {
        let row = try Row.fetchOne(
            db, sql: "SELECT jwt_secret, jwt_issued_at, anon_key_issued_at, service_role_key_issued_at FROM project WHERE name = ?",
            arguments: [project.rawValue])
        guard let row, let secret: String = row["jwt_secret"], let issuedAt: Date = row["jwt_issued_at"] else { return nil }
        return ProjectJWTSecret(
            secret: try secrets.open(secret, purpose: SealedColumn.jwtSecret.purpose), issuedAt: issuedAt,
            anonIssuedAt: row["anon_key_issued_at"], serviceRoleIssuedAt: row["service_role_key_issued_at"])
    }

    /// Replaces the project's JWT secret: keys and tokens signed with the old one stop verifying.
    package func setJWTSecret(_ secret: ProjectJWTSecret, of project: ResourceName) throws {
        try db.execute(
            sql: """
                UPDATE project SET jwt_secret = ?, jwt_issued_at = ?, anon_key_issued_at = NULL, service_role_key_issued_at = NULL
                WHERE name = ?
                """,
            arguments: [sealed(secret), secret.issuedAt, project.rawValue])
    }

    /// Re-issues one of the project's keys at `issuedAt`: the key issued before stops verifying.
    package func setKeyIssuedAt(_ issuedAt: Date, role: ProjectKeyRole, of project: ResourceName) throws {
        let column = role == .anon ? "anon_key_issued_at" : "service_role_key_issued_at"
        try db.execute(sql: "UPDATE project SET \(column) = ? WHERE name = ?", arguments: [issuedAt, project.rawValue])
    }

    /// Gives the project `secret` unless it has one already; true when it was set.
    package func setJWTSecretIfMissing(_ secret: ProjectJWTSecret, of project: ResourceName) throws -> Bool {
        try db.execute(
            sql: "UPDATE project SET jwt_secret = ?, jwt_issued_at = ? WHERE name = ? AND jwt_secret IS NULL",
            arguments: [sealed(secret), secret.issuedAt, project.rawValue])
        return db.changesCount > 0
    }

    /// The secret as stored: sealed under the master key.
    private func sealed(_ secret: ProjectJWTSecret) -> String { secrets.seal(secret.secret, purpose: SealedColumn.jwtSecret.purpose) }

    /// Projects, in any state, that have no JWT secret yet (made before secrets existed, or restored from a backup).
    package func projectsWithoutJWTSecret() throws -> [ResourceName] {
        try String.fetchAll(db, sql: "SELECT name FROM project WHERE jwt_secret IS NULL ORDER BY name").compactMap {
            try? ResourceName(validating: $0)
        }
    }
}

extension Catalog {
    /// The JWT secret of a ready project, from memory when it is there: the data API asks on every
    /// request. Nil when there is no such project, it is not ready, or it has no secret yet.
    package func jwtSecret(ofReady project: ResourceName) async throws -> ProjectJWTSecret? {
        let lookup = jwtSecrets.lookup(project.rawValue)
        if let cached = lookup.secret { return cached }
        let found = try await read { tx -> ProjectJWTSecret? in
            guard try tx.project(project)?.state == .ready else { return nil }
            return try tx.jwtSecret(of: project)
        }
        if let found { jwtSecrets.store(found, for: project.rawValue, ifStill: lookup.generation) }
        return found
    }
}

/// Ready projects' JWT secrets in memory. Every catalog write empties it when it ends, and bumps
/// a generation: a secret read from the catalog is kept only if no write ended since the lookup
/// began, so a value read just before a rotation committed is never cached after it.
final class JWTSecretCache: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var secrets: [String: ProjectJWTSecret] = [:]
    }

    private let state = Mutex(State())

    /// How many writes have ended since the catalog was opened.
    var generation: UInt64 { state.withLock { $0.generation } }

    /// The cached secret, if any, and the generation to pass to `store` after reading the catalog.
    func lookup(_ project: String) -> (secret: ProjectJWTSecret?, generation: UInt64) {
        state.withLock { ($0.secrets[project], $0.generation) }
    }

    /// Keeps `secret` unless a write ended since `generation` was looked up.
    func store(_ secret: ProjectJWTSecret, for project: String, ifStill generation: UInt64) {
        state.withLock { state in
            guard state.generation == generation else { return }
            state.secrets[project] = secret
        }
    }

    /// Forgets every secret.
    func invalidate() {
        state.withLock { state in
            state.generation &+= 1
            state.secrets.removeAll()
        }
    }
}
