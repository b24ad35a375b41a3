package import BranchAuth
package import BranchCatalog
import BranchCore
import Foundation
import Logging

/// Every project's JWT secret and the two long-lived keys signed with it (`anon`, `service_role`),
/// which apps give Supabase's client libraries along with the project's data API URL. The data
/// API verifies keys and tokens with `verification(project:)`. (`BranchAuth.ProjectKeys` signs;
/// this part stores, serves and rotates.)
package struct ProjectKeys: EnginePart {
    let context: EngineContext

    /// The project's anon and service_role keys: the same on every call until `rotate`.
    package func keys(_ name: String) async throws -> ProjectAPIKeys {
        let project = try await catalog.read { try $0.requireProject(name) }
        return Self.apiKeys(project.name, try await secret(of: project.name))
    }

    /// Gives the project a new JWT secret. Its old keys, and every access token signed with the old
    /// secret, stop working at once: the data API reads the secret through `jwtSecret(project:)`,
    /// whose cache the catalog empties when this write ends.
    package func rotate(_ name: String) async throws -> KeyRotation {
        let projectKey = try ResourceName(validating: name, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in try tx.requireProject(name) }) { project in
            let (secret, timing) = try await journal.run("project.keys.rotate", project: project.name, target: project.name.rawValue) { op in
                let secret = Self.newSecret()
                try await op.step("catalog") { try await catalog.write { try $0.setJWTSecret(secret, of: project.name) } }
                return secret
            }
            return KeyRotation(keys: Self.apiKeys(project.name, secret), operation: timing)
        }
    }

    /// Re-issues one of the project's two keys: the old one stops working at once (the data API
    /// checks each long-lived key's `iat` against its role's current issue time), while the other
    /// key and every user's session keep working. Returns both keys, the new one included.
    package func revoke(_ name: String, role: ProjectKeyRole) async throws -> KeyRotation {
        let projectKey = try ResourceName(validating: name, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in try tx.requireProject(name) }) { project in
            let (secret, timing) = try await journal.run("project.keys.revoke", project: project.name, target: role.rawValue) { op in
                try await op.step("catalog") {
                    try await catalog.write { tx in
                        guard var secret = try tx.jwtSecret(of: project.name) else { throw EngineError.projectNotFound(project.name.rawValue) }
                        // Whole seconds (the `iat` is an integer), and later than the revoked key's, so the new key differs.
                        let previous = Self.issueTimes(secret)
                        let revoked = role == .anon ? previous.anon : previous.serviceRole
                        let now = Int(Date().timeIntervalSince1970.rounded(.down))
                        let issued = Date(timeIntervalSince1970: Double(max(now, revoked + 1)))
                        try tx.setKeyIssuedAt(issued, role: role, of: project.name)
                        if role == .anon { secret.anonIssuedAt = issued } else { secret.serviceRoleIssuedAt = issued }
                        return secret
                    }
                }
            }
            logger.notice("project data API key revoked", metadata: ["project": "\(project.name)", "role": "\(role.rawValue)"])
            return KeyRotation(keys: Self.apiKeys(project.name, secret), operation: timing)
        }
    }

    /// What the data API verifies a request's key and token with: the bytes of the project's
    /// secret, and which of its long-lived keys are current. One cached lookup.
    func verification(project name: String) async throws -> (secret: [UInt8], current: KeyIssueTimes) {
        let stored = try await jwtSecret(project: name)
        return (BranchAuth.ProjectKeys.secretBytes(stored.secret), Self.issueTimes(stored))
    }

    /// The secret that verifies a ready project's keys and tokens. Cheap: served from memory after
    /// the first call, and current from the moment a rotation is written. Throws
    /// `project_not_found`, `not_ready` or `invalid_name`.
    package func jwtSecret(project name: String) async throws -> ProjectJWTSecret {
        let validName = try ResourceName(validating: name, kind: "project name")
        if let secret = try await catalog.jwtSecret(ofReady: validName) { return secret }
        // Unknown or not ready (these throw), or restored from a backup since the service started.
        let project = try await catalog.read { try $0.requireProject(name) }
        return try await secret(of: project.name)
    }

    /// Accepts `token` only if it is the project's service_role key (or another token signed with
    /// its secret whose role is service_role): what the admin SQL and migration endpoints take
    /// besides the admin key. Throws `unauthorized` otherwise.
    package func requireServiceRoleKey(_ token: String, project name: String) async throws {
        let stored = try await jwtSecret(project: name)
        let secret = BranchAuth.ProjectKeys.secretBytes(stored.secret)
        guard let verified = try? context.dataAPI.tokens.verify(token, secret: secret), verified.claims["role"]?.stringValue == "service_role",
            Self.issueTimes(stored).accepts(verified.claims)
        else {
            throw EngineError(
                .unauthorized, "This key is neither the admin key nor project '\(name)'s service_role key.",
                hint: "Use the service_role key `branch keys --project \(name)` prints, or the admin key.")
        }
    }

    /// Gives a secret to every project without one (made before projects had them). Run at start.
    func ensureSecrets() async throws {
        for name in try await catalog.read({ try $0.projectsWithoutJWTSecret() }) {
            if try await catalog.write({ try $0.setJWTSecretIfMissing(Self.newSecret(), of: name) }) {
                logger.info("project JWT secret generated", metadata: ["project": "\(name)"])
            }
        }
    }

    // MARK: Helpers

    /// The project's secret; one is made when it has none (a project restored from a backup).
    func secret(of project: ResourceName) async throws -> ProjectJWTSecret {
        if let existing = try await catalog.read({ try $0.jwtSecret(of: project) }) { return existing }
        let fresh = Self.newSecret()
        return try await catalog.write { tx in
            _ = try tx.setJWTSecretIfMissing(fresh, of: project)
            guard let secret = try tx.jwtSecret(of: project) else { throw EngineError.projectNotFound(project.rawValue) }
            return secret
        }
    }

    /// A new random secret, issued now (whole seconds: the keys' `iat` is an integer).
    static func newSecret() -> ProjectJWTSecret {
        ProjectJWTSecret(
            secret: BranchAuth.ProjectKeys.newSecret(), issuedAt: Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)))
    }

    /// The keys `secret` signs for `project`; the same inputs always give the same keys.
    static func apiKeys(_ project: ResourceName, _ secret: ProjectJWTSecret) -> ProjectAPIKeys {
        let keys = BranchAuth.ProjectKeys.keys(project: project.rawValue, secret: secret.secret, issued: issueTimes(secret))
        return ProjectAPIKeys(
            project: project.rawValue, path: "/p/\(project.rawValue)", anonKey: keys.anon, serviceRoleKey: keys.serviceRole,
            issuedAt: secret.issuedAt)
    }

    /// Each key's issue time: its own after a revocation, else the secret's.
    static func issueTimes(_ secret: ProjectJWTSecret) -> KeyIssueTimes {
        func seconds(_ date: Date?) -> Int { Int((date ?? secret.issuedAt).timeIntervalSince1970.rounded(.down)) }
        return KeyIssueTimes(anon: seconds(secret.anonIssuedAt), serviceRole: seconds(secret.serviceRoleIssuedAt))
    }
}
