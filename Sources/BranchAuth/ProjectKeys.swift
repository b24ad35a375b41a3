import BranchCore
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
        let issued = Int(issuedAt.timeIntervalSince1970.rounded(.down))
        func key(_ role: String) -> String {
            JWT.sign(
                ["role": .string(role), "iss": "branch", "ref": .string(project), "iat": .integer(issued), "exp": .integer(issued + keyLifetime)],
                secret: secretBytes(secret))
        }
        return (key("anon"), key("service_role"))
    }
}
