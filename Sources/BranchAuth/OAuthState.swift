package import BranchCore
package import Foundation

/// What a provider sign-in carries from `/authorize` to `/callback` in OAuth's `state`: the
/// provider, where the app wants the user back (already checked against the allow list) and the
/// PKCE flow, if any. It is an HS256 token signed with the project's JWT secret and marked with its
/// purpose, so neither a forged state nor one of the project's API keys or access tokens passes.
package struct OAuthState: Sendable, Equatable {
    package var provider: OAuthProviderKind
    package var redirectTo: String
    /// The `auth.flow_state` row of a PKCE sign-in; nil for the implicit flow.
    package var flowStateID: String?

    package init(provider: OAuthProviderKind, redirectTo: String, flowStateID: String?) {
        self.provider = provider
        self.redirectTo = redirectTo
        self.flowStateID = flowStateID
    }

    /// A sign-in has ten minutes between leaving for the provider and coming back.
    static let lifetime = 600
    static let purpose = "oauth_state"

    package func signed(secret: [UInt8], now: Date) -> String {
        let issued = Int(now.timeIntervalSince1970)
        var claims: [String: JSONValue] = [
            "purpose": .string(Self.purpose), "provider": .string(provider.rawValue), "redirect_to": .string(redirectTo),
            "iat": .integer(issued), "exp": .integer(issued + Self.lifetime),
            // Two sign-ins in the same second still get different states.
            "nonce": .string(UUID().uuidString),
        ]
        if let flowStateID { claims["flow_state_id"] = .string(flowStateID) }
        return JWT.sign(claims, secret: secret)
    }

    /// The state `text` carries, or nil when it is not one this project signed, or is stale.
    package static func verified(_ text: String, secret: [UInt8], now: Date) -> OAuthState? {
        guard let claims = try? JWT.verify(text, secret: secret, now: now, leeway: 0), claims["purpose"] == .string(purpose),
            let provider = claims["provider"]?.stringValue.flatMap(OAuthProviderKind.init(rawValue:)),
            let redirectTo = claims["redirect_to"]?.stringValue
        else { return nil }
        return OAuthState(provider: provider, redirectTo: redirectTo, flowStateID: claims["flow_state_id"]?.stringValue)
    }
}
