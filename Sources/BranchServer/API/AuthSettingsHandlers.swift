import BranchAPI
import BranchAuth
import BranchEngine
import Foundation
import OpenAPIRuntime

// A project's data API auth settings (its owner's): sign-ups, email confirmation, links, SMTP.
extension APIHandlers {
    func getAuthSettings(_ input: Operations.GetAuthSettings.Input) async throws -> Operations.GetAuthSettings.Output {
        .ok(.init(body: .json(.init(try await engine.authSettings.show(project: input.path.project)))))
    }

    func setAuthSettings(_ input: Operations.SetAuthSettings.Input) async throws -> Operations.SetAuthSettings.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let change = AuthSettingsChange(
            allowSignup: body.allowSignup, confirmEmail: body.confirmEmail, siteURL: body.siteURL, redirectURLs: body.redirectURLs,
            otpExpirySeconds: body.otpExpirySeconds, smtp: body.smtp, smtpPassword: body.smtpPassword, smtpTrust: body.smtpTrust, sender: body.sender,
            apiURL: body.apiURL, mailsPerHour: body.mailsPerHour,
            templates: body.templates.map { templates in
                Dictionary(templates.map { ($0.kind.rawValue, MailTemplate(subject: $0.subject, body: $0.body)) }, uniquingKeysWith: { $1 })
            }, secureEmailChange: body.secureEmailChange)
        return .ok(.init(body: .json(.init(try await engine.authSettings.update(project: input.path.project, change)))))
    }

    func testAuthMail(_ input: Operations.TestAuthMail.Input) async throws -> Operations.TestAuthMail.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let result = try await engine.authSettings.testMail(project: input.path.project, to: body.to)
        return .ok(.init(body: .json(.init(delivered: result.delivered, error: result.error, milliseconds: result.milliseconds))))
    }
}

// A project's sign-in providers (its owner's): OAuth clients for GitHub, GitLab, Google, Keycloak.
extension APIHandlers {
    func listAuthProviders(_ input: Operations.ListAuthProviders.Input) async throws -> Operations.ListAuthProviders.Output {
        .ok(.init(body: .json(.init(providers: try await engine.authProviders.list(project: input.path.project).map(Schemas.AuthProvider.init)))))
    }

    func setAuthProvider(_ input: Operations.SetAuthProvider.Input) async throws -> Operations.SetAuthProvider.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let change = AuthProviderChange(enabled: body.enabled, clientID: body.clientId, clientSecret: body.clientSecret, url: body.url)
        return .ok(.init(body: .json(.init(try await engine.authProviders.update(project: input.path.project, provider: input.path.provider, change)))))
    }

    func removeAuthProvider(_ input: Operations.RemoveAuthProvider.Input) async throws -> Operations.RemoveAuthProvider.Output {
        let started = Date()
        try await engine.authProviders.remove(project: input.path.project, provider: input.path.provider)
        let timing = Schemas.OperationTiming(durationMs: Date().timeIntervalSince(started) * 1000, id: UUID().uuidString.lowercased(), steps: [])
        return .ok(.init(body: .json(.init(deleted: [input.path.provider], operation: timing))))
    }
}

extension Schemas.AuthProvider {
    init(_ view: AuthProviderView) {
        self.init(
            provider: view.provider, enabled: view.enabled, clientId: view.clientID, hasSecret: view.hasSecret, url: view.url,
            callbackURL: view.callbackURL, updatedAt: view.updatedAt)
    }
}

extension Schemas.AuthSettings {
    init(_ view: AuthSettingsView) {
        self.init(
            project: view.project, allowSignup: view.allowSignup, confirmEmail: view.confirmEmail, siteURL: view.siteURL, redirectURLs: view.redirectURLs,
            otpExpirySeconds: view.otpExpirySeconds, smtp: view.smtp, smtpHasPassword: view.smtpHasPassword, smtpHasTrust: view.smtpHasTrust,
            sender: view.sender, updatedAt: view.updatedAt, apiURL: view.apiURL, mailsPerHour: view.mailsPerHour,
            templates: view.templates.sorted { $0.key < $1.key }.compactMap { kind, template in
                Schemas.MailTemplate.KindPayload(rawValue: kind).map { Schemas.MailTemplate(kind: $0, subject: template.subject, body: template.body) }
            }, secureEmailChange: view.secureEmailChange)
    }
}
