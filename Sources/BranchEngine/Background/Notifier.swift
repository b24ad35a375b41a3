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
///
/// Every alert delivery is also written to the catalog's outbox until it is delivered or given up:
/// what is still queued or retrying when the service stops is sent after the next start.
package final class Notifier: Service, Sendable {
    private enum Delivery: Sendable {
        /// A backup schedule's report (its own retries, `Webhook.send`).
        case report(url: String, json: [String: String], slackText: String?, event: String)
        /// An alert to one channel, and its outbox row (nil when it could not be written).
        case alert(AlertEvent, AlertChannelRecord, outbox: Int64?)
    }

    private let deliveries: AsyncStream<Delivery>
    private let queue: AsyncStream<Delivery>.Continuation
    private let logger: Logger
    private let sender: AlertSender
    private let backoff: AlertBackoff
    private let maxPending: Int
    /// Deliveries queued or in flight.
    private let pending = Mutex(0)
    private let catalog: Catalog
    /// This process's mark on the outbox rows it delivers; rows with another were left by an
    /// earlier process and are taken over at start.
    private let owner = Identifiers.shortID(length: 12)

    init(logger: Logger, catalog: Catalog, service: String, backoff: AlertBackoff, maxPending: Int) {
        (deliveries, queue) = AsyncStream.makeStream()
        self.logger = logger
        self.catalog = catalog
        self.sender = AlertSender(service: service)
        self.backoff = backoff
        self.maxPending = maxPending
    }

    /// Queues a JSON report (or Slack's `{"text": …}`) for `url`.
    func post(url: String, json: [String: String], slackText: String?, event: String) {
        enqueue(.report(url: url, json: json, slackText: slackText, event: event))
    }

    /// Queues `event` for each of `channels` (each its own delivery and retries), recorded in the
    /// outbox first. Without the outbox (a full pool) the delivery still runs, from memory only.
    func deliver(_ event: AlertEvent, to channels: [AlertChannelRecord]) async {
        let admitted = channels.filter { admit(.alert(event, $0, outbox: nil)) }
        guard !admitted.isEmpty else { return }
        let owner = owner
        let rows = admitted.compactMap { channel in channel.id.map { Self.outboxRow(event, channel: $0, owner: owner) } }
        var ids: [Int64: Int64] = [:]
        do {
            for row in try await catalog.write({ try $0.insertOutbox(rows) }) {
                if let id = row.id { ids[row.channelID] = id }
            }
        } catch {
            logger.error("alert not recorded in the outbox: it is lost if the service stops first", metadata: [
                "event": "\(event.kind.rawValue)", "error": "\(error)",
            ])
        }
        for channel in admitted { queue.yield(.alert(event, channel, outbox: channel.id.flatMap { ids[$0] })) }
    }

    private func enqueue(_ delivery: Delivery) {
        if admit(delivery) { queue.yield(delivery) }
    }

    /// Counts a new delivery in, unless `maxPending` are already waiting (then logs the drop).
    private func admit(_ delivery: Delivery) -> Bool {
        let admitted = pending.withLock { count in
            guard count < maxPending else { return false }
            count += 1
            return true
        }
        if !admitted {
            logger.error("alert delivery dropped: too many pending", metadata: ["pending": "\(maxPending)", "delivery": "\(Self.label(delivery))"])
        }
        return admitted
    }

    /// Queues again what earlier service processes left in the outbox.
    private func redeliverOutbox() async {
        let owner = owner
        do {
            let claimed = try await catalog.write { try $0.claimOutbox(for: owner) }
            for (row, channel) in claimed {
                // A kind this build does not know (written by a newer one before a rollback) is dropped.
                guard let event = Self.event(row) else {
                    if let id = row.id { await forget(id) }
                    continue
                }
                let delivery = Delivery.alert(event, channel, outbox: row.id)
                if admit(delivery) { queue.yield(delivery) } else if let id = row.id { await forget(id) }
            }
            if !claimed.isEmpty { logger.notice("alerts left undelivered by the last run queued again", metadata: ["count": "\(claimed.count)"]) }
        } catch {
            logger.error("could not read the alert outbox", metadata: ["error": "\(error)"])
        }
    }

    private func forget(_ id: Int64) async {
        do {
            try await catalog.write { try $0.deleteOutbox(id) }
        } catch {
            logger.warning("could not remove a finished alert from the outbox", metadata: ["error": "\(error)"])
        }
    }

    static func outboxRow(_ event: AlertEvent, channel: Int64, owner: String) -> AlertOutboxRecord {
        AlertOutboxRecord(
            channelID: channel, owner: owner, kind: event.kind.rawValue, severity: event.severity.rawValue, project: event.project,
            branch: event.branch, title: event.title, detail: event.detail, raisedAt: event.at)
    }

    static func event(_ row: AlertOutboxRecord) -> AlertEvent? {
        guard let kind = AlertEvent.Kind(rawValue: row.kind), let severity = AlertEvent.Severity(rawValue: row.severity) else { return nil }
        return AlertEvent(kind, severity: severity, project: row.project, branch: row.branch, title: row.title, detail: row.detail, at: row.raisedAt)
    }

    package func run() async throws {
        await redeliverOutbox()
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
        case .alert(let event, let channel, let outbox):
            let delays = backoff.delays
            for attempt in 0...delays.count {
                guard let failure = await sender.send(event, to: channel) else {
                    if let outbox { await forget(outbox) }
                    return
                }
                // Stopping: the delivery does not hold the service up; its outbox row keeps it for the next start.
                if Task.isCancelled { return leftForNextStart(delivery) }
                let last = attempt == delays.count
                logger.log(
                    level: last ? .error : .warning, last ? "alert delivery failed" : "alert delivery failed; retrying",
                    metadata: [
                        "channel": "\(Self.label(delivery))", "event": "\(event.kind.rawValue)", "attempt": "\(attempt + 1)", "error": "\(failure)",
                    ])
                if last {
                    if let outbox { await forget(outbox) }
                    return
                }
                do { try await Task.sleep(for: delays[attempt]) } catch { return leftForNextStart(delivery) }
            }
        }
    }

    private func leftForNextStart(_ delivery: Delivery) {
        guard case .alert(_, _, let outbox) = delivery else { return }
        logger.notice(
            outbox == nil ? "alert delivery given up at shutdown" : "alert delivery left in the outbox for the next start",
            metadata: ["channel": "\(Self.label(delivery))"])
    }

    /// What a log line may say about a delivery: the kind, the scope and the redacted target.
    private static func label(_ delivery: Delivery) -> String {
        switch delivery {
        case .report(let url, _, _, let event): "report \(event) to \(Redaction.url(url))"
        case .alert(_, let channel, _):
            "\(channel.kind.rawValue) of \(channel.project ?? "the instance") to \(AlertChannelView(channel).target)"
        }
    }
}
