package import BranchCore
package import Foundation

/// A project's JWT secret and the two long-lived API keys signed with it.
package enum ProjectKeys {
    /// How long the anon and service_role keys last: ten years, as Supabase's do.
    static let keyLifetime = 10 * 365 * 24 * 3600

    /// A new random secret (32 bytes, base64url text to store).
    package static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The bytes a stored secret signs with: its UTF-8 text, as GoTrue and PostgREST use a
    /// Supabase project's secret, so a secret brought from Supabase verifies the same tokens.
    package static func secretBytes(_ stored: String) -> [UInt8] {
        Array(stored.utf8)
    }

    /// The long-lived anon and service_role keys: {"role":…,"iss":"branch","ref":project,"iat":issuedAt,"exp":issuedAt+10 years}; deterministic for the same inputs.
    package static func keys(project: String, secret: String, issuedAt: Date) -> (anon: String, serviceRole: String) {
        keys(project: project, secret: secret, issued: KeyIssueTimes(both: issuedAt))
    }

    /// The keys with each role's own `iat` (one is re-issued when it is revoked).
    package static func keys(project: String, secret: String, issued: KeyIssueTimes) -> (anon: String, serviceRole: String) {
        func key(_ role: String, _ issued: Int) -> String {
            JWT.sign(
                ["role": .string(role), "iss": "branch", "ref": .string(project), "iat": .integer(issued), "exp": .integer(issued + keyLifetime)],
                secret: secretBytes(secret))
        }
        return (key("anon", issued.anon), key("service_role", issued.serviceRole))
    }
}

/// When each of a project's two long-lived keys was issued (whole seconds). The key of a role is
/// current only with that role's time as its `iat`: revoking one key re-issues it with a later
/// time, so the old key is refused at once although its signature is good, while the other key
/// and every user's token keep working. (Rotating the secret ends them all.)
package struct KeyIssueTimes: Sendable, Hashable {
    package var anon: Int
    package var serviceRole: Int

    package init(anon: Int, serviceRole: Int) {
        self.anon = anon
        self.serviceRole = serviceRole
    }

    package init(both date: Date) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        self.init(anon: seconds, serviceRole: seconds)
    }

    /// Whether verified `claims` may be used: a key this project issued (`iss: "branch"`, no `sub`)
    /// only if it is its role's current one; any other token (a user's session) always.
    package func accepts(_ claims: [String: JSONValue]) -> Bool {
        guard claims["iss"] == .string("branch"), claims["sub"] == nil else { return true }
        let issued: Int? = switch claims["iat"] {
        case .integer(let value): value
        case .number(let value): Int(exactly: value)
        default: nil
        }
        switch claims["role"] {
        case .string("anon"): return issued == anon
        case .string("service_role"): return issued == serviceRole
        default: return true
        }
    }
}
