package import BranchCatalog
import BranchCore
import Foundation
import Logging

/// The alert channels of the instance and of each project, their settings and their test.
/// `project` nil means the instance's (the instance admin's to change); a project's are its
/// owner's. The HTTP layer checks who may call; these check that the project exists.
package struct Alerts: EnginePart {
    let context: EngineContext

    /// The scope's channels (redacted) and, for a project, its size-jump threshold.
    package func settings(project: String?) async throws -> AlertSettingsView {
        let configured = context.configuration.alerts.defaultSizeJumpPercent
        return try await catalog.read { tx in
            if let project { _ = try tx.requireProject(project) }
            let percent = try project.flatMap { try tx.sizeJumpPercent(project: $0) }
            return AlertSettingsView(
                project: project, channels: try tx.alertChannels(project: project).map(AlertChannelView.init),
                sizeJumpPercent: project == nil ? nil : percent ?? configured, sizeJumpIsDefault: percent == nil)
        }
    }

    /// Sets the scope's channel of the request's kind (replacing it). The secrets are stored sealed.
    package func set(project: String?, _ request: AlertChannelRequest) async throws -> AlertChannelView {
        let record = try request.record(project: project)
        let stored = try await catalog.write { tx in
            if let project { _ = try tx.requireProject(project) }
            return try tx.setAlertChannel(record)
        }
        logger.notice("alert channel set", metadata: ["kind": "\(record.kind.rawValue)", "project": "\(project ?? "-")"])
        return AlertChannelView(stored)
    }

    /// Removes the scope's channel of `kind`, or all of them when nil; returns the settings left.
    package func remove(project: String?, kind: AlertChannelKind?) async throws -> AlertSettingsView {
        let removed = try await catalog.write { tx in
            if let project { _ = try tx.requireProject(project) }
            return try tx.removeAlertChannels(project: project, kind: kind)
        }
        if let kind, removed == 0 {
            throw EngineError(
                .alertChannelNotFound, "\(project.map { "Project '\($0)'" } ?? "The instance") has no \(kind.rawValue) alert channel.",
                hint: "See the channels with `branch alerts show\(project.map { " --project \($0)" } ?? "")`.")
        }
        return try await settings(project: project)
    }

    /// Sets a project's size-jump threshold in percent (nil: back to the default).
    package func setSizeJump(project: String?, percent: Int?) async throws -> AlertSettingsView {
        guard let project else {
            throw EngineError.invalidRequest("Alert settings belong to a project: name one.", hint: "Add --project NAME (in the API: ?project=NAME).")
        }
        if let percent, !(1...10_000).contains(percent) {
            throw EngineError.invalidRequest("The size-jump share is a percentage between 1 and 10000.", hint: "For example: --size-jump 50%.")
        }
        try await catalog.write { tx in
            _ = try tx.requireProject(project)
            try tx.setSizeJumpPercent(project: project, percent)
        }
        return try await settings(project: project)
    }

    /// Sends a test message through every channel of the scope at once, one attempt each, and
    /// says how each went. A dead channel costs its own timeout, not the others'.
    package func test(project: String?) async throws -> [AlertTestResult] {
        let channels = try await catalog.read { tx in
            if let project { _ = try tx.requireProject(project) }
            return try tx.alertChannels(project: project)
        }
        guard !channels.isEmpty else {
            throw EngineError(
                .alertChannelNotFound, "\(project.map { "Project '\($0)'" } ?? "The instance") has no alert channel to test.",
                hint: "Add one with `branch alerts set\(project.map { " --project \($0)" } ?? "") --webhook URL` (or --slack, --email).")
        }
        let event = AlertEvent(
            .test, severity: .info, project: project, title: "Test alert from Branch",
            detail: "This is a test of the alert channels of \(project.map { "project \($0)" } ?? "the instance"): if you read it, alerts reach you.")
        let sender = AlertSender(service: configuration.publicHost)
        let results = await withTaskGroup(of: (Int, AlertTestResult).self) { group in
            for (index, channel) in channels.enumerated() {
                group.addTask {
                    let started = ContinuousClock.now
                    let failure = await sender.send(event, to: channel)
                    let elapsed = Int((ContinuousClock.now - started).seconds * 1000)
                    return (index, AlertTestResult(channel: AlertChannelView(channel), delivered: failure == nil, error: failure, milliseconds: elapsed))
                }
            }
            var results: [(Int, AlertTestResult)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        for result in results where !result.delivered {
            logger.warning("alert test failed", metadata: ["channel": "\(result.channel.kind.rawValue)", "target": "\(result.channel.target)", "error": "\(result.error ?? "")"])
        }
        return results
    }
}
