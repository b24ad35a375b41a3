import BranchAPI
import Foundation
import HTTPTypes
import Hummingbird

/// `/projects/{p}/auth/settings`: how the project's data API signs users up and mails them: sign-ups
/// open or closed, email confirmation, the site URL and redirect allow list, how long links last,
/// the SMTP server (with a test message) and the sign-in providers (GitHub, GitLab, Google, Keycloak). Supabase self-hosted keeps these in environment
/// variables; here the owner edits them and they apply from the next request. Owners only.
struct AuthSettingsPages: Sendable {
    let environment: ConsoleEnvironment

    struct Model: Sendable {
        var project: String
        var base: String
        var usersHref: String
        var mayManage: Bool
        var settings: Form?
        var error: String?
        var cli: String
        /// The variables mail wording takes, shown as typed (a template cannot print `{{` itself).
        var templateVariables = "{{ .ConfirmationURL }}, {{ .Token }}, {{ .TokenHash }}, {{ .SiteURL }}, {{ .Email }}, {{ .RedirectTo }}, {{ .NewEmail }} (email change)"
        /// The sign-in providers, each with its own form (a secret belongs to one provider).
        var providers: [ProviderField] = []
        var callbackURL = ""
    }

    /// One sign-in provider as its form shows it.
    struct ProviderField: Sendable {
        var provider: String
        var label: String
        var enabled: Bool
        var configured: Bool
        var clientID: String
        var hasSecret: Bool
        var url: String
        var urlHint: String
        var cli: String
    }

    /// How the console names each provider, and what its URL field is for.
    static let providerLabels: [String: (label: String, urlHint: String)] = [
        "github": ("GitHub", "https://github.com (or your GitHub Enterprise)"), "gitlab": ("GitLab", "https://gitlab.com (or your own)"),
        "google": ("Google", "Google's own addresses"), "keycloak": ("Keycloak", "required: https://id.example.com/realms/REALM"),
    ]

    static func providerFields(_ providers: [Components.Schemas.AuthProvider], project: String) -> [ProviderField] {
        providers.map { provider in
            let names = providerLabels[provider.provider] ?? (provider.provider, "")
            return ProviderField(
                provider: provider.provider, label: names.label, enabled: provider.enabled, configured: provider.updatedAt != nil,
                clientID: provider.clientId ?? "", hasSecret: provider.hasSecret, url: provider.url ?? "", urlHint: names.urlHint,
                cli: "printf %s \"$SECRET\" | branch auth provider set \(provider.provider) --project \(project) --client-id ID --client-secret-stdin --enable")
        }
    }

    /// The form's fields as shown (what was posted, after a refused save).
    struct Form: Sendable {
        var allowSignup: Bool
        var confirmEmail: Bool
        var secureEmailChange: Bool
        var siteURL: String
        var redirectURLs: String
        var otpExpiry: String
        var smtp: String
        var smtpHasPassword: Bool
        var smtpHasTrust: Bool
        var sender: String
        var apiURL: String
        var mailsPerHour: String
        var hasMail: Bool
        var updated: String
        var templates: [TemplateField] = []
    }

    /// One kind of mail in the form: its own subject and body, blank for the default.
    struct TemplateField: Sendable {
        var kind: String
        var label: String
        var subject: String
        var body: String
        var customized: Bool
    }

    /// The kinds of auth mail, as GoTrue names them, and how the form calls them.
    static let mailKinds: [(kind: String, label: String)] = [
        ("confirmation", "Confirm sign-up"), ("invite", "Invite user"), ("magic_link", "Magic link and code"),
        ("recovery", "Reset password"), ("email_change", "Change email address"),
    ]

    static func templateFields(_ stored: [Components.Schemas.MailTemplate]) -> [TemplateField] {
        mailKinds.map { kind, label in
            let template = stored.first { $0.kind.rawValue == kind }
            return TemplateField(
                kind: kind, label: label, subject: template?.subject ?? "", body: template?.body ?? "",
                customized: template?.subject != nil || template?.body != nil)
        }
    }

    static func postedTemplates(_ form: FormFields) -> [TemplateField] {
        mailKinds.map { kind, label in
            let subject = form["template_\(kind)_subject"] ?? "", body = form["template_\(kind)_body"] ?? ""
            return TemplateField(kind: kind, label: label, subject: subject, body: body, customized: !subject.isEmpty || !body.isEmpty)
        }
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/auth/settings") { _, context -> Response in
            try await page(try ProjectSettingsPages.project(context))
        }
        pages.post("/projects/:project/auth/settings") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let form = try await environment.form(request)
            let body = Self.request(form)
            do {
                _ = try await environment.call("setAuthSettings", project: project, changes: true, target: "auth settings") {
                    try await $0.setAuthSettings(.init(path: .init(project: project), body: .json(body))).ok.body.json
                }
                return environment.redirect(Self.href(project), flash: "Auth settings saved; they apply from the next request.")
            } catch let failure as ConsoleFailure where [400, 409, 422].contains(failure.status) {
                return try await page(project, error: "\(failure.message) (\(failure.code))", posted: Self.echo(form), status: .init(code: failure.status))
            }
        }
        pages.post("/projects/:project/auth/settings/test-mail") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let to = try await environment.form(request).text("to") ?? ""
            do {
                let report = try await environment.call("testAuthMail", project: project, changes: true, target: "auth test mail") {
                    try await $0.testAuthMail(.init(path: .init(project: project), body: .json(.init(to: to)))).ok.body.json
                }
                return environment.redirect(
                    Self.href(project) + "#test-mail",
                    flash: report.delivered ? "Test message sent to \(to) (\(report.milliseconds) ms)." : "Not sent: \(report.error ?? "no answer").",
                    error: !report.delivered)
            } catch let failure as ConsoleFailure where [400, 409].contains(failure.status) {
                return environment.redirect(Self.href(project) + "#test-mail", flash: "\(failure.message) (\(failure.code))", error: true)
            }
        }
        pages.post("/projects/:project/auth/settings/providers/:provider") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let provider = context.parameters.get("provider") ?? ""
            let form = try await environment.form(request)
            let body = Components.Schemas.AuthProviderRequest(
                enabled: form["enabled"] == "on", clientId: form["client_id"] ?? "", clientSecret: form.text("client_secret"), url: form["url"] ?? "")
            let anchor = Self.href(project) + "#provider-" + ConsolePath.segment(provider)
            do {
                let saved = try await environment.call("setAuthProvider", project: project, changes: true, target: "auth provider \(provider)") {
                    try await $0.setAuthProvider(.init(path: .init(project: project, provider: provider), body: .json(body))).ok.body.json
                }
                return environment.redirect(anchor, flash: "\(Self.providerLabels[saved.provider]?.label ?? saved.provider) sign-in saved: \(saved.enabled ? "on" : "off").")
            } catch let failure as ConsoleFailure where [400, 404, 409, 422].contains(failure.status) {
                return environment.redirect(anchor, flash: "\(failure.message) (\(failure.code))", error: true)
            }
        }
        pages.post("/projects/:project/auth/settings/providers/:provider/remove") { _, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let provider = context.parameters.get("provider") ?? ""
            do {
                _ = try await environment.call("removeAuthProvider", project: project, changes: true, target: "auth provider \(provider)") {
                    try await $0.removeAuthProvider(.init(path: .init(project: project, provider: provider))).ok.body.json
                }
                return environment.redirect(Self.href(project) + "#providers", flash: "\(Self.providerLabels[provider]?.label ?? provider) sign-in removed.")
            } catch let failure as ConsoleFailure where [400, 404].contains(failure.status) {
                return environment.redirect(Self.href(project) + "#providers", flash: "\(failure.message) (\(failure.code))", error: true)
            }
        }
    }

    static func href(_ project: String) -> String { "/projects/\(ConsolePath.segment(project))/auth/settings" }

    /// The API request of a posted form. Blank secret fields keep what is stored; a checkbox
    /// removes the server or its certificates.
    static func request(_ form: FormFields) -> Components.Schemas.AuthSettingsRequest {
        let removeServer = form["remove_smtp"] == "on"
        let redirects = (form["redirect_urls"] ?? "").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return Components.Schemas.AuthSettingsRequest(
            allowSignup: form["allow_signup"] == "on", confirmEmail: form["confirm_email"] == "on", siteURL: form.text("site_url") ?? "",
            redirectURLs: redirects, otpExpirySeconds: Int(form["otp_expiry"] ?? "") ?? -1,
            smtp: removeServer ? "" : (form.text("smtp") ?? ""), smtpPassword: removeServer ? nil : form.text("smtp_password"),
            smtpTrust: form["remove_trust"] == "on" ? "" : form.text("smtp_trust"), sender: removeServer ? nil : (form.text("sender") ?? ""),
            apiURL: form.text("api_url") ?? "", mailsPerHour: Int(form["mails_per_hour"] ?? "") ?? -1,
            templates: postedTemplates(form).compactMap { field in
                // Every kind the form shows is sent: a blank one goes back to the default.
                Components.Schemas.MailTemplate.KindPayload(rawValue: field.kind).map {
                    Components.Schemas.MailTemplate(kind: $0, subject: field.subject, body: field.body)
                }
            }, secureEmailChange: form["secure_email_change"] == "on")
    }

    static func echo(_ form: FormFields) -> Form {
        Form(
            allowSignup: form["allow_signup"] == "on", confirmEmail: form["confirm_email"] == "on",
            secureEmailChange: form["secure_email_change"] == "on", siteURL: form["site_url"] ?? "",
            redirectURLs: form["redirect_urls"] ?? "", otpExpiry: form["otp_expiry"] ?? "", smtp: form["smtp"] ?? "", smtpHasPassword: false,
            smtpHasTrust: false, sender: form["sender"] ?? "", apiURL: form["api_url"] ?? "", mailsPerHour: form["mails_per_hour"] ?? "", hasMail: false,
            updated: "", templates: postedTemplates(form))
    }

    func page(_ project: String, error: String? = nil, posted: Form? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let session = try ConsoleSession.required()
        let mayManage = session.viewer.may(.owner, in: project)
        var form = posted
        var providers: [Components.Schemas.AuthProvider] = []
        if mayManage {
            providers = try await environment.call("listAuthProviders", project: project) {
                try await $0.listAuthProviders(.init(path: .init(project: project))).ok.body.json
            }.providers
            let settings = try await environment.call("getAuthSettings", project: project) {
                try await $0.getAuthSettings(.init(path: .init(project: project))).ok.body.json
            }
            let stored = Form(
                allowSignup: settings.allowSignup, confirmEmail: settings.confirmEmail, secureEmailChange: settings.secureEmailChange,
                siteURL: settings.siteURL,
                redirectURLs: settings.redirectURLs.joined(separator: "\n"), otpExpiry: String(settings.otpExpirySeconds), smtp: settings.smtp ?? "",
                smtpHasPassword: settings.smtpHasPassword, smtpHasTrust: settings.smtpHasTrust, sender: settings.sender ?? "",
                apiURL: settings.apiURL ?? "", mailsPerHour: String(settings.mailsPerHour), hasMail: settings.smtp != nil, updated: settings.updatedAt.map { Formatting.utc($0) } ?? "never (defaults)",
                templates: Self.templateFields(settings.templates))
            if var echoed = posted {
                echoed.smtpHasPassword = stored.smtpHasPassword
                echoed.smtpHasTrust = stored.smtpHasTrust
                echoed.hasMail = stored.hasMail
                echoed.updated = stored.updated
                form = echoed
            } else {
                form = stored
            }
        }
        let segment = ConsolePath.segment(project)
        let model = Model(
            project: project, base: "/projects/\(segment)/auth/settings", usersHref: "/projects/\(segment)/auth", mayManage: mayManage,
            settings: form, error: error,
            cli: "branch auth set --project \(project) --confirm-email on --site-url https://app.example.com --smtp smtp://USER@HOST:587 --sender no-reply@example.com --smtp-password-stdin",
            providers: Self.providerFields(providers, project: project), callbackURL: providers.first?.callbackURL ?? "")
        return try await environment.page(
            "auth-settings", title: "Auth settings · \(project)", project: project, section: .auth, cli: model.cli, status: status, body: model)
    }
}
