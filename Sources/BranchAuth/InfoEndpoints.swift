import BranchREST

/// `GET /settings` and `GET /health`, answered as GoTrue answers them.
enum InfoEndpoints {
    /// Which sign-in methods exist: email (password, link and code) and the providers the project turned on.
    static func settings(context: AuthContext) -> DataResponse {
        let providers = ["anonymous_users", "apple", "azure", "bitbucket", "discord", "email", "facebook", "figma", "github", "gitlab",
                         "google", "keycloak", "kakao", "linkedin_oidc", "notion", "phone", "slack_oidc", "spotify", "twitch", "twitter",
                         "workos", "zoom"]
        let enabled = Set(["email"] + context.policy.providers.keys.map(\.rawValue))
        let external = JSONText.object(providers.map { ($0, enabled.contains($0) ? "true" : "false") })
        return AuthReply.json(200, JSONText.object([
            ("external", external),
            ("disable_signup", context.policy.allowSignup ? "false" : "true"),
            ("mailer_autoconfirm", context.autoConfirm ? "true" : "false"),
            ("phone_autoconfirm", "false"),
            ("sms_provider", JSONText.string("")),
            ("saml_enabled", "false"),
        ]))
    }

    /// Liveness, in GoTrue's words.
    static func health() -> DataResponse {
        AuthReply.json(200, JSONText.object([
            ("version", JSONText.string("branch")),
            ("name", JSONText.string("GoTrue")),
            ("description", JSONText.string("GoTrue is a user registration and authentication API")),
        ]))
    }
}
