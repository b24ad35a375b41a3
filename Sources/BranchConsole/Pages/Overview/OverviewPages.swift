import BranchAPI
import Foundation
import Hummingbird

/// `/projects/{p}`: the project's home: the health of each branch, the backup trust card (age of
/// the last backup and of the last verified restore, encryption), the newest snapshots, recent
/// activity, and each branch's connection strings; a mirror's state (`MirrorCard`). With
/// `?at=ISO`, the same as of a past instant (`OverviewMoment`), read-only and without
/// connection strings.
struct OverviewPages: Sendable {
    let environment: ConsoleEnvironment

    struct Health: Sendable {
        var name: String
        var href: String
        var status: String
        var port: Int
        var restarts: String
        var restarted: Bool
        var connections: String
        var database: String
        var size: String
        var checkedOut: Bool
        var current: Bool
    }

    struct Trust: Sendable {
        var lastBackup: String
        var lastBackupDetail: String
        var backupBad: Bool
        var lastVerified: String
        var verifiedDetail: String
        var verifiedBad: Bool
        var encryption: String
        var schedule: String
        var window: String
    }

    struct SnapshotRow: Sendable {
        var label: String
        var kind: String
        var branch: String
        var age: String
        var at: String
        var href: String
    }

    struct Activity: Sendable {
        var at: String
        var age: String
        var what: String
        var target: String
        var state: String
        var bad: Bool
        /// How to undo it (developers, now only), as on the Activity page; the form comes back here.
        var undo: UndoAction?
        var returnTo: String?
    }

    struct Model: Sendable {
        var project: String
        var role: String
        var size: String
        var shared: String?
        var snapshotCount: Int
        var branchCount: Int
        var running: Int
        var checkedOut: String
        var health: [Health]
        var trust: Trust
        var snapshots: [SnapshotRow]
        var hasSnapshots: Bool
        var activity: [Activity]
        var hasActivity: Bool
        var connections: [BranchConnections.Entry]
        var connectionsHidden: Bool
        var mayWrite: Bool
        var timelineHref: String
        var branchesHref: String
        var backupsHref: String
        var mirror: MirrorCard?
        /// The past instant shown (canonical ISO), and the link back to now.
        var at: String?
        var nowHref: String?
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project") { request, context -> Response in
            let query = request.uri.queryParameters
            return try await overview(
                project: try context.parameters.require("project"), branch: query["branch"].map(String.init),
                at: try Formatting.canonicalInstant(query["at"].map(String.init)))
        }
    }

    func overview(project: String, branch: String?, at: String? = nil) async throws -> Response {
        let moment = at.flatMap(Formatting.instant).map(OverviewMoment.init)
        // Going back in time reads more of the journal, events and metrics, then keeps what came before the instant.
        let history = moment == nil ? 10 : 1000
        let minutes = moment.map { OverviewMoment.minutes(back: $0.instant) } ?? 0
        async let projectInfo = environment.call("getProject", project: project) {
            try await $0.getProject(.init(path: .init(project: project))).ok.body.json
        }
        async let branchList = environment.call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches
        }
        async let snapshotList = environment.call("listSnapshots", project: project) {
            try await $0.listSnapshots(.init(path: .init(project: project))).ok.body.json.snapshots
        }
        async let backupList = environment.call("listBackups", project: project) {
            try await $0.listBackups(.init(query: .init(project: project))).ok.body.json.backups
        }
        async let eventList = environment.call("listEvents", project: project) {
            try await $0.listEvents(.init(query: .init(project: project, limit: history))).ok.body.json.events
        }
        async let operationList = environment.call("listOperations", project: project) {
            try await $0.listOperations(.init(query: .init(project: project, limit: history))).ok.body.json.operations
        }
        async let metrics = environment.call("getMetrics", project: project) {
            try await $0.getMetrics(.init(query: .init(project: project, minutes: minutes))).ok.body.json.series
        }
        let info = try await projectInfo
        let listed = BranchTree.ordered(try await branchList).map(\.branch)
        let branches = moment?.branches(listed) ?? listed
        let current = branch ?? info.checkedOut
        let latest = Dictionary(
            try await metrics.map { series in (series.branch, moment.map { $0.sample(series.samples) } ?? series.samples.last) },
            uniquingKeysWith: { first, _ in first })
        let base = "/projects/\(ConsolePath.segment(project))"
        let health = branches.map { branch in
            let sample = latest[branch.name] ?? nil
            // Then: what the sample nearest before the instant says, or nothing.
            let status = moment == nil ? branch.status : sample?.status ?? "unknown"
            let restarts = moment == nil ? branch.restarts : sample?.restarts
            return Health(
                name: branch.name, href: "\(base)/branches/\(ConsolePath.segment(branch.name))", status: status, port: branch.port,
                restarts: restarts.map(String.init) ?? "—", restarted: (restarts ?? 0) > 0, connections: sample?.connections.map(String.init) ?? "—",
                database: Formatting.bytes(sample?.databaseBytes), size: Formatting.bytes(moment == nil ? branch.exclusiveBytes : sample?.exclusiveBytes),
                checkedOut: moment == nil && branch.checkedOut, current: branch.name == current)
        }
        // What copy-on-write saves: the branches' databases as Postgres counts them, less the bytes only each holds.
        let logical = branches.compactMap { latest[$0.name]??.databaseBytes }.reduce(0, +)
        let exclusive = branches.compactMap(\.exclusiveBytes).reduce(0, +)
        let mayWrite = moment == nil && PageAccess.mayWrite(project)
        let connections = moment != nil ? [] : try await BranchConnections.load(project: info, branches: branches, reveal: mayWrite, current: current, environment: environment)
        let allSnapshots = try await snapshotList
        let snapshotsThen = moment?.snapshots(allSnapshots) ?? allSnapshots
        let snapshots = snapshotsThen.filter { $0.kind != "base" }.sorted { $0.createdAt > $1.createdAt }.prefix(6).map { snapshot in
            SnapshotRow(
                label: snapshot.name ?? snapshot.id, kind: snapshot.kind, branch: snapshot.sourceBranch, age: Formatting.age(snapshot.createdAt, now: moment?.instant ?? Date()),
                at: Instants.utc(snapshot.createdAt), href: "\(base)/timeline?point=snapshot:\(FormFields.encode(snapshot.id))")
        }
        let operations = try await operationList, events = try await eventList
        let undoable = moment == nil && ConsoleSession.current?.viewer.may(.developer, in: project) == true
        let activity = activityRows(
            operations: moment?.operations(operations) ?? operations, events: moment?.events(events) ?? events, now: moment?.instant ?? Date(),
            undo: undoable ? { ActivityUndo.undo(for: $0, snapshots: allSnapshots, branches: listed) } : { _ in nil }, returnTo: base)
        let backups = try await backupList
        let model = Model(
            project: project, role: ConsoleSession.current?.viewer.role(in: project)?.rawValue ?? info.role,
            size: moment == nil ? Formatting.bytes(info.exclusiveBytes) : "—",
            shared: moment == nil && logical > exclusive && branches.count > 1 ? Formatting.bytes(logical - exclusive) : nil,
            snapshotCount: moment == nil ? info.snapshots : snapshotsThen.count, branchCount: branches.count,
            running: health.filter { $0.status == "running" }.count, checkedOut: moment == nil ? info.checkedOut : "—",
            health: health, trust: trust(info, backups: moment?.backups(backups) ?? backups, then: moment), snapshots: Array(snapshots),
            hasSnapshots: !snapshots.isEmpty,
            activity: activity, hasActivity: !activity.isEmpty, connections: connections, connectionsHidden: !mayWrite, mayWrite: mayWrite,
            timelineHref: "\(base)/timeline", branchesHref: "\(base)/branches", backupsHref: "\(base)/backups",
            mirror: moment == nil ? info.mirror.map(MirrorCard.init) : nil, at: at, nowHref: at.map { _ in base })
        return try await environment.page(
            "overview", title: project, project: project, branch: branch, point: at, section: .overview,
            cli: "branch project show \(project)", body: model)
    }

    /// The backup trust card; at a past instant (`then`), ages count back from it, and a
    /// verification after it is not known (only the newest is kept).
    func trust(_ info: Components.Schemas.ProjectInfo, backups: [Components.Schemas.BackupInfo], then: OverviewMoment? = nil) -> Trust {
        let newest = backups.max { $0.startedAt < $1.startedAt }
        let lastGood = backups.filter { $0.status == "succeeded" }.max { $0.startedAt < $1.startedAt }
        let verification = then.map { $0.verification(info.lastVerification) } ?? info.lastVerification
        let now = then?.instant ?? Date()
        let unknown = then != nil && verification == nil && info.lastVerification != nil
        return Trust(
            lastBackup: newest.map { Formatting.age($0.startedAt, now: now) } ?? "never",
            lastBackupDetail: newest.map { backup in
                "\(backup.status) · \(backup.kind) · \(Instants.utc(backup.startedAt))"
                    + (backup.status == "failed" ? lastGood.map { " · last good \(Formatting.age($0.startedAt, now: now))" } ?? "" : "")
            } ?? "No backup yet: `branch backup create` takes one.",
            backupBad: newest == nil || newest?.status == "failed",
            lastVerified: verification.map { Formatting.age($0.at, now: now) } ?? (unknown ? "not known" : "never"),
            verifiedDetail: verification.map { $0.ok ? "restored and checked OK (\(Instants.utc($0.at)))" : "FAILED: \($0.error ?? "the restore did not check out")" }
                ?? (unknown ? "Only the newest verification is kept, and it came after this instant."
                    : "No test restore yet: `branch backup verify` runs one."),
            verifiedBad: verification.map { !$0.ok } ?? !unknown,
            encryption: backups.isEmpty ? "Backups are encrypted with the service's backup key when taken." : "Encrypted: every backup is encrypted with the service's backup key.",
            schedule: info.backupSchedule.map { "Backups scheduled: \($0)" } ?? "No backup schedule",
            window: info.earliestRestorableAt.map { "\(Instants.utc($0)) → now (retention \(info.retentionDays) d)" + (then == nil ? "" : ", as of now") } ?? "—")
    }

    /// The newest journal entries and server events together, newest first; each operation with
    /// its undo, when `undo` finds one.
    func activityRows(
        operations: [Components.Schemas.OperationInfo], events: [Components.Schemas.EventInfo], now: Date = Date(),
        undo: (Components.Schemas.OperationInfo) -> UndoAction? = { _ in nil }, returnTo: String? = nil
    ) -> [Activity] {
        let fromOperations = operations.map { operation in
            (operation.startedAt, Activity(
                at: Instants.utc(operation.startedAt), age: Formatting.age(operation.startedAt, now: now), what: operation.kind, target: operation.target ?? "",
                state: operation.state + (operation.errorCode.map { " (\($0))" } ?? ""), bad: operation.state == "failed",
                undo: undo(operation), returnTo: returnTo))
        }
        let fromEvents = events.map { event in
            (event.at, Activity(
                at: Instants.utc(event.at), age: Formatting.age(event.at, now: now), what: event.kind, target: [event.branch, event.detail].compactMap { $0 }.joined(separator: ": "),
                state: "event", bad: event.kind.contains("crash") || event.kind.contains("fail")))
        }
        return (fromOperations + fromEvents).sorted { $0.0 > $1.0 }.prefix(10).map(\.1)
    }
}
