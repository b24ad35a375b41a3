import BranchBackup
import BranchCatalog
import BranchCore
import Logging
import ServiceLifecycle
import Synchronization

/// Delivers webhooks (backup reports) and alerts in the background: each delivery, with its
/// retries, is a child task of this service, so a dead endpoint delays no schedule, restart,
/// request or other channel. What waits is bounded: past `maxPending` deliveries queued or in
/// flight, new ones are dropped and logged.
package final class Notifier: Service, Sendable {
    private enum Delivery: Sendable {
        /// A backup schedule's report (its own retries, `Webhook.send`).
        case report(url: String, json: [String: String], slackText: String?, event: String)
        /// An alert to one channel.
        case alert(AlertEvent, AlertChannelRecord)
    }

    private let deliveries: AsyncStream<Delivery>
    private let queue: AsyncStream<Delivery>.Continuation
    private let logger: Logger
    private let sender: AlertSender
    private let backoff: AlertBackoff
    private let maxPending: Int
    /// Deliveries queued or in flight.
    private let pending = Mutex(0)

    init(logger: Logger, service: String, backoff: AlertBackoff, maxPending: Int) {
        (deliveries, queue) = AsyncStream.makeStream()
        self.logger = logger
        self.sender = AlertSender(service: service)
        self.backoff = backoff
        self.maxPending = maxPending
    }

    /// Queues a JSON report (or Slack's `{"text": …}`) for `url`.
    func post(url: String, json: [String: String], slackText: String?, event: String) {
        enqueue(.report(url: url, json: json, slackText: slackText, event: event))
    }

    /// Queues `event` for each of `channels` (each its own delivery and retries).
    func deliver(_ event: AlertEvent, to channels: [AlertChannelRecord]) {
        for channel in channels { enqueue(.alert(event, channel)) }
    }

    private func enqueue(_ delivery: Delivery) {
        let admitted = pending.withLock { count in
            guard count < maxPending else { return false }
            count += 1
            return true
        }
        guard admitted else {
            logger.error("alert delivery dropped: too many pending", metadata: ["pending": "\(maxPending)", "delivery": "\(Self.label(delivery))"])
            return
        }
        queue.yield(delivery)
    }

    package func run() async throws {
        await withDiscardingTaskGroup { group in
            for await delivery in deliveries.cancelOnGracefulShutdown() {
                group.addTask {
                    defer { self.pending.withLock { $0 -= 1 } }
                    await self.perform(delivery)
                }
            }
            group.cancelAll()
        }
    }

    private func perform(_ delivery: Delivery) async {
        switch delivery {
        case .report(let url, let json, let slackText, let event):
            let delivered = await Webhook.send(to: url, json: json, slackText: slackText)
            if !delivered {
                logger.error("webhook delivery failed", metadata: ["url": "\(Redaction.url(url))", "event": "\(event)"])
            }
        case .alert(let event, let channel):
            let delays = backoff.delays
            for attempt in 0...delays.count {
                guard let failure = await sender.send(event, to: channel) else { return }
                let last = attempt == delays.count || Task.isCancelled
                logger.log(
                    level: last ? .error : .warning, last ? "alert delivery failed" : "alert delivery failed; retrying",
                    metadata: [
                        "channel": "\(Self.label(delivery))", "event": "\(event.kind.rawValue)", "attempt": "\(attempt + 1)", "error": "\(failure)",
                    ])
                if last { return }
                // Cancelled at shutdown: the alert is given up rather than holding the service up.
                do { try await Task.sleep(for: delays[attempt]) } catch { return }
            }
        }
    }

    /// What a log line may say about a delivery: the kind, the scope and the redacted target.
    private static func label(_ delivery: Delivery) -> String {
        switch delivery {
        case .report(let url, _, _, let event): "report \(event) to \(Redaction.url(url))"
        case .alert(_, let channel):
            "\(channel.kind.rawValue) of \(channel.project ?? "the instance") to \(AlertChannelView(channel).target)"
        }
    }
}
