package import BranchAuth
import BranchCatalog
import BranchCore
package import Foundation
import Logging

/// A project's sign-in providers (GitHub, GitLab, Google, Keycloak): the owner registers an OAuth
/// app at the provider with the callback URL shown here, then gives Branch its client id and
/// secret (`branch auth provider set`, the console's Auth settings). Supabase self-hosted keeps
/// these in environment variables and needs a restart; here they apply to the next sign-in.
package struct AuthProviders: EnginePart {
    let context: EngineContext

    /// Every provider Branch supports, configured or not, in a stable order.
    package func list(project: String) async throws -> [AuthProviderView] {
        let (stored, apiURL) = try await catalog.read { tx in
            _ = try tx.requireProject(project)
            return (try tx.authProviders(project: project), try tx.authSettings(project: project).apiURL)
        }
        return OAuthProviderKind.allCases.map { kind in
            AuthProviderView(kind: kind, record: stored.first { $0.provider == kind.rawValue }, callbackURL: callbackURL(project: project, apiURL: apiURL))
        }
    }

    /// Applies the fields `change` sets to provider `name`. A provider is enabled only with a
    /// client id and secret (and, for Keycloak, its realm's URL); nothing is stored otherwise.
    package func update(project: String, provider name: String, _ change: AuthProviderChange) async throws -> AuthProviderView {
        let kind = try Self.kind(name)
        let (stored, apiURL) = try await catalog.write { tx in
            _ = try tx.requireProject(project)
            var record = try tx.authProviders(project: project).first { $0.provider == kind.rawValue }
                ?? AuthProviderRecord(project: project, provider: kind.rawValue, enabled: false, clientID: "", clientSecret: "", url: nil)
            try change.apply(to: &record, kind: kind)
            record.updatedAt = Date()
            try tx.save(record)
            return (record, try tx.authSettings(project: project).apiURL)
        }
        logger.notice(
            "auth provider changed",
            metadata: ["project": "\(project)", "provider": "\(kind.rawValue)", "enabled": "\(stored.enabled)", "fields": "\(change.fieldNames.joined(separator: ","))"])
        return AuthProviderView(kind: kind, record: stored, callbackURL: callbackURL(project: project, apiURL: apiURL))
    }

    /// Forgets the provider's client; its users keep their accounts but cannot sign in with it.
    package func remove(project: String, provider name: String) async throws {
        let kind = try Self.kind(name)
        let removed = try await catalog.write { tx in
            _ = try tx.requireProject(project)
            return try tx.removeAuthProvider(project: project, provider: kind.rawValue)
        }
        guard removed else {
            throw EngineError(.notFound, "Project '\(project)' has no \(kind.rawValue) sign-in set up.", hint: "See `branch auth provider list --project \(project)`.")
        }
        logger.notice("auth provider removed", metadata: ["project": "\(project)", "provider": "\(kind.rawValue)"])
    }

    /// The enabled providers as the auth endpoints use them.
    func enabled(_ records: [AuthProviderRecord]) -> [OAuthProviderKind: OAuthProviderSettings] {
        Dictionary(uniqueKeysWithValues: records.compactMap { record in
            guard record.enabled, let kind = OAuthProviderKind(rawValue: record.provider) else { return nil }
            return (kind, OAuthProviderSettings(kind: kind, clientID: record.clientID, clientSecret: record.clientSecret, url: record.url))
        })
    }

    /// What the owner registers at the provider: the project's auth callback on its public address.
    func callbackURL(project: String, apiURL: String?) -> String {
        (apiURL ?? configuration.publicURL) + "/p/\(project)/auth/v1/callback"
    }

    static func kind(_ name: String) throws -> OAuthProviderKind {
        guard let kind = OAuthProviderKind(rawValue: name.lowercased()) else {
            throw EngineError.invalidRequest(
                "'\(name)' is not a sign-in provider Branch supports.",
                hint: "Choose one of: " + OAuthProviderKind.allCases.map(\.rawValue).joined(separator: ", ") + ".")
        }
        return kind
    }
}

/// The fields an update sets (nil: unchanged). `url` "" goes back to the provider's public service.
package struct AuthProviderChange: Sendable {
    package var enabled: Bool?
    package var clientID: String?
    package var clientSecret: String?
    package var url: String?

    package init(enabled: Bool? = nil, clientID: String? = nil, clientSecret: String? = nil, url: String? = nil) {
        self.enabled = enabled
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.url = url
    }

    var fieldNames: [String] {
        [enabled.map { _ in "enabled" }, clientID.map { _ in "client_id" }, clientSecret.map { _ in "client_secret" }, url.map { _ in "url" }]
            .compactMap { $0 }
    }

    func apply(to record: inout AuthProviderRecord, kind: OAuthProviderKind) throws {
        if let clientID {
            let trimmed = clientID.trimmingCharacters(in: .whitespacesAndNewlines)
            guard trimmed.count <= 512, !trimmed.contains(where: { $0.isNewline }) else {
                throw EngineError.invalidRequest("The client id is one line of at most 512 characters, as the provider shows it.")
            }
            record.clientID = trimmed
        }
        if let clientSecret {
            let trimmed = clientSecret.trimmingCharacters(in: .whitespacesAndNewlines)
            guard trimmed.count <= 1024, !trimmed.contains(where: { $0.isNewline }) else {
                throw EngineError.invalidRequest("The client secret is one line of at most 1024 characters, as the provider shows it.")
            }
            record.clientSecret = trimmed
        }
        if let url {
            let trimmed = url.trimmingCharacters(in: .whitespaces)
            let stripped = trimmed.hasSuffix("/") ? String(trimmed.dropLast()) : trimmed
            if stripped.isEmpty {
                record.url = nil
            } else {
                guard let components = URLComponents(string: stripped), ["http", "https"].contains(components.scheme?.lowercased() ?? ""),
                    !(components.host ?? "").isEmpty, components.user == nil, components.query == nil, components.fragment == nil
                else {
                    throw EngineError.invalidRequest(
                        "The provider URL must be an http or https address without a query, like https://github.example.com.",
                        hint: kind == .keycloak ? "For Keycloak, the realm: https://id.example.com/realms/myrealm." : "Leave it out for the public \(kind.rawValue).")
                }
                record.url = stripped
            }
        }
        if let enabled { record.enabled = enabled }
        guard record.enabled else { return }
        if record.clientID.isEmpty || record.clientSecret.isEmpty {
            throw EngineError.invalidRequest(
                "Turning \(kind.rawValue) sign-in on needs the client id and secret of an OAuth app registered at \(kind.rawValue).",
                hint: "Add --client-id ID --client-secret-stdin; register the callback URL `branch auth provider list` shows.")
        }
        if kind.endpoints(url: record.url) == nil {
            throw EngineError.invalidRequest(
                "Keycloak has no public service: give the realm's URL.", hint: "Add --url https://id.example.com/realms/myrealm.")
        }
    }
}

/// A provider as shown: the secret only as whether one is set.
package struct AuthProviderView: Sendable, Equatable {
    package var provider: String
    package var enabled: Bool
    package var clientID: String?
    package var hasSecret: Bool
    package var url: String?
    /// What to register at the provider as the OAuth app's callback (redirect) URL.
    package var callbackURL: String
    package var updatedAt: Date?

    init(kind: OAuthProviderKind, record: AuthProviderRecord?, callbackURL: String) {
        provider = kind.rawValue
        enabled = record?.enabled ?? false
        clientID = record.flatMap { $0.clientID.isEmpty ? nil : $0.clientID }
        hasSecret = !(record?.clientSecret.isEmpty ?? true)
        url = record?.url
        self.callbackURL = callbackURL
        updatedAt = record?.updatedAt
    }
}
