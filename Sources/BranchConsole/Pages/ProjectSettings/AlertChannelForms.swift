import BranchAPI
import Foundation
import Hummingbird

/// The alert channel forms (webhook, Slack, e-mail): set, remove, test, for a project (its
/// owners) at `/projects/{p}/settings/alerts…` and for the instance (its admin) at `/settings/alerts…`.
struct AlertChannelForms: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.post("/projects/:project/settings/alerts") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            return try await set(project: project, form: try await environment.form(request), back: ProjectSettingsPages.href(project))
        }
        pages.post("/projects/:project/settings/alerts/remove") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            return try await remove(project: project, form: try await environment.form(request), back: ProjectSettingsPages.href(project))
        }
        pages.post("/projects/:project/settings/alerts/test") { _, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            return try await test(project: project, back: ProjectSettingsPages.href(project))
        }
        pages.post("/settings/alerts") { request, _ -> Response in
            try await set(project: nil, form: try await environment.form(request), back: "/settings")
        }
        pages.post("/settings/alerts/remove") { request, _ -> Response in
            try await remove(project: nil, form: try await environment.form(request), back: "/settings")
        }
        pages.post("/settings/alerts/test") { _, _ -> Response in try await test(project: nil, back: "/settings") }
    }

    static func kind(_ form: FormFields) -> Operations.SetAlertChannel.Input.Path.KindPayload {
        Operations.SetAlertChannel.Input.Path.KindPayload(rawValue: form["kind"] ?? "") ?? .webhook
    }

    func set(project: String?, form: FormFields, back: String) async throws -> Response {
        let kind = Self.kind(form)
        let to = (form["to"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let body = Components.Schemas.AlertChannelRequest(
            from: form.text("from"), includeSuccess: form["include_success"] == "on", smtp: form.text("smtp"),
            smtpPassword: form.text("smtp_password"), to: to.isEmpty ? nil : to, url: form.text("url"))
        do {
            _ = try await environment.call("setAlertChannel", project: project, changes: true, target: kind.rawValue) {
                try await $0.setAlertChannel(.init(path: .init(kind: kind), query: .init(project: project), body: .json(body))).ok.body.json
            }
            return environment.redirect(back + "#alerts", flash: "The \(kind.rawValue) channel is set.")
        } catch let failure as ConsoleFailure where failure.status == 400 {
            return environment.redirect(back + "#alerts", flash: "\(failure.message) (\(failure.code))", error: true)
        }
    }

    func remove(project: String?, form: FormFields, back: String) async throws -> Response {
        let kind = Operations.RemoveAlertChannel.Input.Path.KindPayload(rawValue: form["kind"] ?? "") ?? .webhook
        _ = try await environment.call("removeAlertChannel", project: project, changes: true, target: kind.rawValue) {
            try await $0.removeAlertChannel(.init(path: .init(kind: kind), query: .init(project: project))).ok.body.json
        }
        return environment.redirect(back + "#alerts", flash: "The \(kind.rawValue) channel is removed.")
    }

    func test(project: String?, back: String) async throws -> Response {
        let report = try await environment.call("testAlerts", project: project, changes: true) {
            try await $0.testAlerts(.init(query: .init(project: project))).ok.body.json
        }
        let lines = report.results.map { "\($0.channel.kind.rawValue): \($0.delivered ? "delivered" : "failed (\($0.error ?? "no answer"))")" }
        let failed = report.results.contains { !$0.delivered }
        return environment.redirect(
            back + "#alerts", flash: lines.isEmpty ? "No channel to test." : "Test sent. " + lines.joined(separator: "; "), error: failed)
    }
}
