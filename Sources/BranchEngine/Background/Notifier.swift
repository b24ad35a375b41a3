import BranchBackup
import BranchCore
import Logging
import ServiceLifecycle

/// Delivers webhooks (backup reports) in the background: each delivery, with its retries, is a
/// child task of this service, so a dead endpoint delays no schedule, restart or request.
package final class Notifier: Service, Sendable {
    private struct Delivery: Sendable {
        let url: String
        let json: [String: String]
        let slackText: String?
        let event: String
    }

    private let deliveries: AsyncStream<Delivery>
    private let queue: AsyncStream<Delivery>.Continuation
    private let logger: Logger

    init(logger: Logger) {
        (deliveries, queue) = AsyncStream.makeStream()
        self.logger = logger
    }

    /// Queues a JSON report (or Slack's `{"text": …}`) for `url`.
    func post(url: String, json: [String: String], slackText: String?, event: String) {
        queue.yield(Delivery(url: url, json: json, slackText: slackText, event: event))
    }

    package func run() async throws {
        await withDiscardingTaskGroup { group in
            for await delivery in deliveries.cancelOnGracefulShutdown() {
                group.addTask {
                    let delivered = await Webhook.send(to: delivery.url, json: delivery.json, slackText: delivery.slackText)
                    if !delivered {
                        self.logger.error("webhook delivery failed", metadata: ["url": "\(Redaction.url(delivery.url))", "event": "\(delivery.event)"])
                    }
                }
            }
            group.cancelAll()
        }
    }
}
