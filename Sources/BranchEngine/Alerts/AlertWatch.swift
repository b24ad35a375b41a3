import BranchCatalog
import BranchCore
import BranchStorage
import Foundation
import Logging
import ServiceLifecycle

/// The alert sources that need a look now and then (every `alerts.checkInterval`): pool space,
/// the service certificate's expiry and database growth since the last backup. Raising an
/// alert only queues it, so this loop never waits on a channel.
struct AlertWatchService: Service {
    let context: EngineContext

    func run() async throws {
        let context = context
        // Cancelled when the service stops: a stop must not wait out the interval.
        await cancelWhenGracefulShutdown {
            let watch = AlertWatch(context: context)
            var pool = PoolSpaceTracker(
                thresholds: context.configuration.alerts.poolSpaceThresholds, hysteresis: context.configuration.alerts.poolSpaceHysteresis)
            while !Task.isCancelled {
                await watch.checkPoolSpace(&pool)
                await watch.checkCertificate()
                await watch.checkSizeJumps()
                try? await Task.sleep(for: context.configuration.alerts.checkInterval)
            }
        }
    }
}

struct AlertWatch: EnginePart {
    let context: EngineContext

    /// The setting holding when the certificate last alerted (at most daily, across restarts).
    static let certificateAlertedSetting = "alerts.certificate_alerted_at"

    func checkPoolSpace(_ tracker: inout PoolSpaceTracker) async {
        let space = storage.space()
        guard space.total > 0 else { return }
        // The catalog's reserve, given back when the pool filled up, is made again once there is room.
        let reserve = EmergencyReserve(path: layout.catalogReserve)
        if !reserve.isInPlace, reserve.ensure(freeBytes: space.free) {
            logger.notice("the catalog's reserved space is in place again", metadata: ["pool": "\(layout.root)"])
        }
        let used = Double(space.total - min(space.free, space.total)) / Double(space.total) * 100
        switch tracker.observe(usedPercent: used) {
        case .crossed(let threshold)?:
            await context.alert(AlertEvent(
                .poolSpace, severity: threshold >= 95 ? .critical : .warning,
                title: "The pool is \(Int(used.rounded(.down)))% full (past \(threshold)%)",
                detail: "\(ByteCount.format(space.free)) free of \(ByteCount.format(space.total)) in \(layout.root). "
                    + "`branch status` shows what uses it; delete unused branches and snapshots, shorten retention, or grow the pool."))
        case .recovered(let threshold)?:
            await context.alert(AlertEvent(
                .poolSpace, severity: .info, title: "The pool is back below \(threshold)% full",
                detail: "\(ByteCount.format(space.free)) free of \(ByteCount.format(space.total)) in \(layout.root)."))
        case nil:
            break
        }
    }

    func checkCertificate(now: Date = Date()) async {
        guard let certificate = configuration.tls else { return }
        let left = certificate.notValidAfter.timeIntervalSince(now)
        guard left < Double(configuration.alerts.certificateWarningDays) * 86_400 else { return }
        let last = (try? await catalog.setting(Self.certificateAlertedSetting)).flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0) }
        if let last, now.timeIntervalSince(last) < 86_400 { return }
        try? await catalog.setSetting(Self.certificateAlertedSetting, String(now.timeIntervalSince1970))
        let days = Int((left / 86_400).rounded(.down))
        let action = certificate.origin == .owner
            ? "Renew \(certificate.certificatePath) and its key, then restart the service (`systemctl restart branch`)."
            : "Restart the service: it makes a new self-signed certificate when the old one has less than 30 days left; clients that pinned the old one must `branch login` again."
        await context.alert(AlertEvent(
            .certificateExpiry, severity: left <= 7 * 86_400 ? .critical : .warning,
            title: left > 0 ? "The service certificate expires in \(days) days" : "The service certificate has expired",
            detail: "It is valid until \(certificate.notValidAfter.formatted(.iso8601)) (fingerprint \(certificate.fingerprint)). \(action)"))
    }

    /// Compares each branch's database size (the metrics sampler's latest) with its size when
    /// its newest backup was taken; one alert per backup when it grew past the project's share.
    func checkSizeJumps() async {
        guard let (backups, percents) = try? await catalog.read({ tx in
            (try tx.backups(nil).filter { $0.status == .complete }, try Dictionary(uniqueKeysWithValues: tx.projects().map { ($0.name.rawValue, try tx.sizeJumpPercent(project: $0.name.rawValue)) }))
        }) else { return }
        var newest: [String: BackupRecord] = [:]
        for backup in backups {
            let key = "\(backup.project)/\(backup.branch)"
            if let current = newest[key], current.startedAt >= backup.startedAt { continue }
            newest[key] = backup
        }
        for backup in newest.values {
            let project = backup.project.rawValue, branch = backup.branch.rawValue
            guard percents.keys.contains(project) else { continue }
            let series = await context.metricsStore.query(project: project, branch: branch, since: backup.startedAt.addingTimeInterval(-configuration.metricsInterval.seconds))
            let samples = series.first?.samples.filter { $0.databaseBytes != nil } ?? []
            guard let latest = samples.last?.databaseBytes else { continue }
            let stored = try? await catalog.read { try $0.sizeBaseline(project: project, branch: branch) }
            guard let baseline = stored ?? nil, baseline.backupID == backup.id else {
                // A new backup: its size is the sample taken closest after it started (else now's).
                let atBackup = samples.first { $0.at >= backup.startedAt.addingTimeInterval(-configuration.metricsInterval.seconds) }?.databaseBytes ?? latest
                try? await catalog.write { tx in
                    try tx.save(SizeBaselineRecord(project: project, branch: branch, backupID: backup.id, databaseBytes: Int64(atBackup), alerted: false))
                }
                continue
            }
            let percent = (percents[project] ?? nil) ?? configuration.alerts.defaultSizeJumpPercent
            guard !baseline.alerted, SizeJump.exceeded(baseline: baseline.databaseBytes, current: Int64(latest), percent: percent) else { continue }
            var updated = baseline
            updated.alerted = true
            try? await catalog.write { [updated] tx in try tx.save(updated) }
            let grown = Int((Double(Int64(latest) - baseline.databaseBytes) / Double(baseline.databaseBytes) * 100).rounded())
            await context.alert(AlertEvent(
                .sizeJump, severity: .warning, project: project, branch: branch,
                title: "The database of \(project)/\(branch) grew \(grown)% since its last backup",
                detail: "It is \(ByteCount.format(latest)) now, \(ByteCount.format(UInt64(baseline.databaseBytes))) at backup \(backup.id) "
                    + "(the project's threshold: \(percent)%). If the growth is expected, take a backup (`branch backup create --project \(project)`); "
                    + "if not, look at what writes to it. Change the threshold with `branch alerts set --project \(project) --size-jump N%`."))
        }
    }
}
