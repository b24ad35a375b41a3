import BranchCatalog
import BranchCore
import Foundation
import Logging

extension EngineContext {
    /// Queues `event` for the channels of its project and of the instance (success events only
    /// for those that opted in). Reads the catalog and returns: delivery happens in the Notifier.
    func deliverAlert(_ event: AlertEvent) async {
        do {
            let channels = try await catalog.read { try $0.alertChannels(forEventOf: event.project) }
                .filter { !event.isSuccess || $0.includeSuccess }
            await notifications.deliver(event, to: channels)
        } catch {
            logger.error("could not read the alert channels", metadata: ["kind": "\(event.kind.rawValue)", "error": "\(error)"])
        }
    }

    /// A branch server crashed or failed to restart: raises one alert when that makes a crash loop.
    func alertCrashLoop(_ branch: BranchRecord) async {
        let alerts = configuration.alerts
        guard let failures = alertState.crashLoopFailure("\(branch.project)/\(branch.name)", at: Date(), configuration: alerts) else { return }
        let minutes = Int(alerts.crashLoopWindow.seconds / 60)
        await alert(AlertEvent(
            .crashLoop, severity: .critical, project: branch.project.rawValue, branch: branch.name.rawValue,
            title: "The server of \(branch.project)/\(branch.name) is crash-looping",
            detail: "It stopped or failed to start \(failures) times within \(minutes) minutes; the supervisor keeps restarting it. "
                + "See `branch logs \(branch.name) --project \(branch.project)` and `branch events --project \(branch.project)`."))
    }
}
