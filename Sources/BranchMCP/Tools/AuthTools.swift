import BranchAPI
import MCP

/// get_auth_settings, set_auth_settings: how a project's data API signs users up and where its
/// mailed links lead. The mail server and its password stay with the console and the CLI.
enum AuthTools {
    static let all = [get, set]

    static let get = ToolSpec(
        name: "get_auth_settings", title: "Get auth settings",
        description: """
            A project's auth settings (Supabase Auth's, per project): whether sign-ups are open, whether new \
            users confirm their email first, the site URL and allowed redirects for mailed links, and whether a \
            mail server is set (magic links, password resets and invitations need one).
            """,
        properties: [.project], readOnly: true
    ) { arguments, context in
        try ToolOutput.json(encoding: try await context.api.getAuthSettings(path: .init(project: try arguments.project())).ok.body.json)
    }

    static let set = ToolSpec(
        name: "set_auth_settings", title: "Change auth settings",
        description: """
            Changes a project's auth settings; what you leave out stays. Use it to point mailed links at your \
            app (site_url, redirect_urls) and to open or close sign-ups. Confirming emails needs a mail server, \
            which the project's owner sets in the console or with `branch auth set --smtp` (the answer is \
            mail_not_configured until then).
            """,
        properties: [
            .project,
            .bool("allow_signup", "Whether new users may sign up."),
            .bool("confirm_email", "Whether new users confirm their email (a mailed link or code) before signing in."),
            .bool("secure_email_change", "Whether a changed email is confirmed at the current address as well as the new one (default true)."),
            .string("site_url", "Your app's URL: where mailed links lead by default."),
            .strings("redirect_urls", "Other URLs (or globs: * within a host label or path segment, ** across) links may lead to; replaces the list."),
            .integer("otp_expiry_seconds", "How long mailed links and codes work.", minimum: 60, maximum: 86_400),
            .integer("mails_per_hour", "At most this many auth mails an hour for the project.", minimum: 1, maximum: 100_000),
            .objects(
                "templates",
                """
                Auth mail in your app's words, per kind; kinds left out keep theirs, a kind with neither subject nor body goes \
                back to the default. Subject and body take GoTrue's variables ({{ .ConfirmationURL }}, {{ .Token }}, \
                {{ .TokenHash }}, {{ .SiteURL }}, {{ .Email }}, {{ .RedirectTo }}, and {{ .NewEmail }} in email_change); a body must \
                use one of the first three, and \
                is sent as HTML when it starts with a tag.
                """,
                properties: [
                    ("kind", "Which mail: confirmation (sign-up), invite, magic_link, recovery (password reset) or email_change.", mailKinds),
                    ("subject", "One line, at most 200 characters.", nil),
                    ("body", "The mail's text, or HTML starting with a tag.", nil),
                ],
                required: ["kind"]),
        ]
    ) { arguments, context in
        let body = Components.Schemas.AuthSettingsRequest(
            allowSignup: try arguments.optionalBool("allow_signup"), confirmEmail: try arguments.optionalBool("confirm_email"),
            siteURL: try arguments.optionalString("site_url"), redirectURLs: try arguments.optionalStrings("redirect_urls"),
            otpExpirySeconds: try arguments.optionalInt("otp_expiry_seconds", in: 60...86_400),
            mailsPerHour: try arguments.optionalInt("mails_per_hour", in: 1...100_000), templates: try templates(arguments),
            secureEmailChange: try arguments.optionalBool("secure_email_change"))
        return try ToolOutput.json(
            encoding: try await context.api.setAuthSettings(path: .init(project: try arguments.project()), body: .json(body)).ok.body.json)
    }

    static let mailKinds = Components.Schemas.MailTemplate.KindPayload.allCases.map(\.rawValue)

    /// The `templates` argument as the API takes it; an unknown kind or a field that is not text is refused here.
    static func templates(_ arguments: ToolArguments) throws -> [Components.Schemas.MailTemplate]? {
        try arguments.optionalList("templates")?.map { (item: Value) -> Components.Schemas.MailTemplate in
            guard case .object(let fields) = item, let name = fields["kind"]?.stringValue,
                let kind = Components.Schemas.MailTemplate.KindPayload(rawValue: name)
            else {
                throw ToolFailure.invalidArgument("Each of 'templates' needs a kind: one of \(mailKinds.joined(separator: ", ")).")
            }
            func text(_ field: String) throws -> String? {
                guard let value = fields[field], value != .null else { return nil }
                guard let text = value.stringValue else { throw ToolFailure.invalidArgument("The \(field) of the \(name) template must be text.") }
                return text
            }
            return Components.Schemas.MailTemplate(kind: kind, subject: try text("subject"), body: try text("body"))
        }
    }
}
