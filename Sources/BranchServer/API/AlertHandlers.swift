import BranchAPI
import BranchCatalog
import BranchCore
import BranchEngine
import Foundation
import OpenAPIRuntime

// Alert channels and settings: the instance's (instance admin) or a project's (its owner), the
// `?project=` filter saying which (see `Permission.operations`).
extension APIHandlers {
    func getAlerts(_ input: Operations.GetAlerts.Input) async throws -> Operations.GetAlerts.Output {
        .ok(.init(body: .json(.init(try await engine.alerts.settings(project: input.query.project)))))
    }

    func setAlertChannel(_ input: Operations.SetAlertChannel.Input) async throws -> Operations.SetAlertChannel.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let kind = AlertChannelKind(rawValue: input.path.kind.rawValue)!
        let request = AlertChannelRequest(
            kind: kind, url: body.url, emailTo: body.to ?? [], emailFrom: body.from, smtp: body.smtp, smtpPassword: body.smtpPassword,
            smtpTrust: body.smtpTrust, includeSuccess: body.includeSuccess ?? false)
        return .ok(.init(body: .json(.init(try await engine.alerts.set(project: input.query.project, request)))))
    }

    func removeAlertChannel(_ input: Operations.RemoveAlertChannel.Input) async throws -> Operations.RemoveAlertChannel.Output {
        let kind = AlertChannelKind(rawValue: input.path.kind.rawValue)
        return .ok(.init(body: .json(.init(try await engine.alerts.remove(project: input.query.project, kind: kind)))))
    }

    func setAlertSettings(_ input: Operations.SetAlertSettings.Input) async throws -> Operations.SetAlertSettings.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        return .ok(.init(body: .json(.init(try await engine.alerts.setSizeJump(project: input.query.project, percent: body.sizeJumpPercent)))))
    }

    func testAlerts(_ input: Operations.TestAlerts.Input) async throws -> Operations.TestAlerts.Output {
        let results = try await engine.alerts.test(project: input.query.project)
        return .ok(.init(body: .json(.init(results: results.map(Schemas.AlertTestResult.init)))))
    }
}

extension Schemas.AlertChannelInfo {
    init(_ view: AlertChannelView) {
        self.init(
            createdAt: view.createdAt, includeSuccess: view.includeSuccess, kind: .init(rawValue: view.kind.rawValue)!, project: view.project,
            target: view.target)
    }
}

extension Schemas.AlertSettings {
    init(_ view: AlertSettingsView) {
        self.init(
            channels: view.channels.map(Schemas.AlertChannelInfo.init), project: view.project, sizeJumpIsDefault: view.sizeJumpIsDefault,
            sizeJumpPercent: view.sizeJumpPercent)
    }
}

extension Schemas.AlertTestResult {
    init(_ result: AlertTestResult) {
        self.init(channel: .init(result.channel), delivered: result.delivered, error: result.error, milliseconds: result.milliseconds)
    }
}
