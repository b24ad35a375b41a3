import BranchAPI
import BranchCatalog
import BranchCore
import BranchEngine
import Foundation
import OpenAPIRuntime

/// Every operation of Sources/BranchAPI/openapi.json, implemented over the engine's use cases:
/// the request's values in, the domain result out as the wire type. A route the document names
/// without a handler here, or a handler whose types drift from the document, does not compile.
struct APIHandlers: APIProtocol {
    let engine: Engine

    // MARK: Service

    func health(_ input: Operations.Health.Input) async throws -> Operations.Health.Output {
        .ok(.init(body: .json(.init(certificateFingerprint: engine.configuration.tls?.fingerprint, status: "ok", version: engine.version))))
    }

    func openapi(_ input: Operations.Openapi.Input) async throws -> Operations.Openapi.Output {
        .ok(.init(body: .json(try OpenAPIText.document)))
    }

    func getStatus(_ input: Operations.GetStatus.Input) async throws -> Operations.GetStatus.Output {
        var status = Schemas.StatusResponse(try await engine.observability.status())
        status.mirrors = try await engine.mirrorStates().map { .init(mirror: .init($0.state), project: $0.project) }
        return .ok(.init(body: .json(status)))
    }

    func listOperations(_ input: Operations.ListOperations.Input) async throws -> Operations.ListOperations.Output {
        let records = try await engine.observability.operations(project: input.query.project, limit: input.query.limit ?? 50)
        return .ok(.init(body: .json(.init(operations: records.map(Schemas.OperationInfo.init)))))
    }

    func listEvents(_ input: Operations.ListEvents.Input) async throws -> Operations.ListEvents.Output {
        let records = try await engine.observability.events(project: input.query.project, limit: input.query.limit ?? 100)
        return .ok(.init(body: .json(.init(events: records.map(Schemas.EventInfo.init)))))
    }

    func getMetrics(_ input: Operations.GetMetrics.Input) async throws -> Operations.GetMetrics.Output {
        let (interval, series) = await engine.observability.metrics(
            project: input.query.project, branch: input.query.branch, minutes: input.query.minutes ?? 60)
        let wire: [Schemas.MetricSeries] = series.map { Schemas.MetricSeries($0) }
        return .ok(.init(body: .json(.init(intervalSeconds: interval, series: wire))))
    }

    func prometheusMetrics(_ input: Operations.PrometheusMetrics.Input) async throws -> Operations.PrometheusMetrics.Output {
        .ok(.init(body: .plainText(HTTPBody(await engine.observability.prometheusText()))))
    }

    func getJob(_ input: Operations.GetJob.Input) async throws -> Operations.GetJob.Output {
        let job = try engine.observability.job(input.path.job)
        // A project's job is the project's business: a caller without a role in it (or, for an
        // instance job, anyone but the instance admin) gets the same 404 as for no job at all.
        let caller = APICaller.current
        // An import's project has no members until it exists: its starter sees it meanwhile.
        let visible = caller.isInstanceAdmin || job.project.map { caller.principal?.role(in: $0) != nil } ?? false
            || (job.startedBy != nil && job.startedBy == caller.principal?.user.email)
        guard visible else { throw EngineFacingError(code: .jobNotFound, message: "There is no job '\(input.path.job)' (finished jobs are kept an hour).", hint: nil) }
        return .ok(.init(body: .json(.init(job))))
    }

    // MARK: Projects

    func listProjects(_ input: Operations.ListProjects.Input) async throws -> Operations.ListProjects.Output {
        // Only the projects the caller has a role in (the instance admin: all).
        let caller = APICaller.current
        let visible = try await engine.projects.list().filter { caller.isInstanceAdmin || caller.principal?.role(in: $0.record.name.rawValue) != nil }
        return .ok(.init(body: .json(.init(projects: visible.map(Schemas.ProjectInfo.init)))))
    }

    func createProject(_ input: Operations.CreateProject.Input) async throws -> Operations.CreateProject.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let owner = try APICaller.current.requireProjectMaker()
        let created = try await engine.projects.create(
            name: body.name, settings: body.settings.map(BranchEngine.ProjectSettings.init), backups: body.backups ?? true)
        if let owner {
            try await engine.identities.setMember(email: owner, project: created.project.record.name.rawValue, role: .owner)
        }
        return .created(.init(body: .json(.init(
            connection: Schemas.ConnectionResponse(created.connection), keys: Schemas.ProjectKeys(created.keys),
            operation: Schemas.OperationTiming(created.operation), project: Schemas.ProjectInfo(created.project)))))
    }

    func getProject(_ input: Operations.GetProject.Input) async throws -> Operations.GetProject.Output {
        var project = Schemas.ProjectInfo(try await engine.projects.get(input.path.project))
        project.mirror = try await engine.mirrorState(input.path.project).map(Schemas.MirrorInfo.init)
        return .ok(.init(body: .json(project)))
    }

    func updateProject(_ input: Operations.UpdateProject.Input) async throws -> Operations.UpdateProject.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let updated = try await engine.projects.update(input.path.project, BranchEngine.ProjectSettings(body))
        return .ok(.init(body: .json(.init(operation: Schemas.OperationTiming(updated.operation), project: Schemas.ProjectInfo(updated.project), restarted: updated.restarted))))
    }

    func deleteProject(_ input: Operations.DeleteProject.Input) async throws -> Operations.DeleteProject.Output {
        let deleted = try await engine.projects.delete(input.path.project, force: input.query.force ?? false)
        try await engine.identities.forgetProject(input.path.project)
        return .ok(.init(body: .json(.init(deleted))))
    }

    func getProjectConnection(_ input: Operations.GetProjectConnection.Input) async throws -> Operations.GetProjectConnection.Output {
        .ok(.init(body: .json(.init(try await engine.projects.connection(input.path.project)))))
    }

    func getProjectKeys(_ input: Operations.GetProjectKeys.Input) async throws -> Operations.GetProjectKeys.Output {
        .ok(.init(body: .json(.init(try await engine.projectKeys.keys(input.path.project)))))
    }

    func rotateProjectKeys(_ input: Operations.RotateProjectKeys.Input) async throws -> Operations.RotateProjectKeys.Output {
        let rotated = try await engine.projectKeys.rotate(input.path.project)
        return .ok(.init(body: .json(.init(keys: Schemas.ProjectKeys(rotated.keys), operation: Schemas.OperationTiming(rotated.operation)))))
    }

    func revokeProjectKey(_ input: Operations.RevokeProjectKey.Input) async throws -> Operations.RevokeProjectKey.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let role: ProjectKeyRole = body.role == .anon ? .anon : .serviceRole
        let revoked = try await engine.projectKeys.revoke(input.path.project, role: role)
        return .ok(.init(body: .json(.init(keys: Schemas.ProjectKeys(revoked.keys), operation: Schemas.OperationTiming(revoked.operation)))))
    }

    func checkout(_ input: Operations.Checkout.Input) async throws -> Operations.Checkout.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let moved = try await engine.frontDoor.checkout(project: input.path.project, branch: body.branch)
        return .ok(.init(body: .json(.init(
            checkedOut: moved.checkedOut, operation: Schemas.OperationTiming(moved.operation), previous: moved.previous, project: moved.project))))
    }

    // MARK: Branches

    func listBranches(_ input: Operations.ListBranches.Input) async throws -> Operations.ListBranches.Output {
        .ok(.init(body: .json(.init(branches: try await engine.branches.list(project: input.path.project).map(Schemas.BranchInfo.init)))))
    }

    func createBranch(_ input: Operations.CreateBranch.Input) async throws -> Operations.CreateBranch.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let created = try await engine.branches.create(
            project: input.path.project, name: body.name, from: body.from, snapshot: body.snapshot, at: try Self.point(at: body.at, lsn: body.atLsn),
            ttlSeconds: body.ttlSeconds, protected: body.protected, schemaOnly: body.schemaOnly ?? false)
        return .created(.init(body: .json(.init(created))))
    }

    func updateBranch(_ input: Operations.UpdateBranch.Input) async throws -> Operations.UpdateBranch.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let updated = try await engine.lifetimes.update(
            project: input.path.project, branch: input.path.branch, protected: body.protected, ttlSeconds: body.ttlSeconds)
        return .ok(.init(body: .json(.init(updated))))
    }

    /// A new branch's past point: `at` (an instant) or `atLsn` (a WAL position), not both.
    static func point(at instant: Date?, lsn: String?) throws -> PastPoint? {
        switch (instant, lsn) {
        case (nil, nil): return nil
        case (let instant?, nil): return .instant(instant)
        case (nil, let lsn?):
            guard let position = WALPosition(lsn) else {
                throw APIInputError(message: "'\(lsn)' is not a WAL position.", hint: "Write it as pg_current_wal_lsn() does: 0/16B3748.")
            }
            return .position(position)
        case (_?, _?): throw APIInputError(message: "Give at (an instant) or atLsn (a WAL position), not both.")
        }
    }

    func getBranch(_ input: Operations.GetBranch.Input) async throws -> Operations.GetBranch.Output {
        .ok(.init(body: .json(.init(try await engine.branches.get(project: input.path.project, input.path.branch)))))
    }

    func deleteBranch(_ input: Operations.DeleteBranch.Input) async throws -> Operations.DeleteBranch.Output {
        let deleted = try await engine.branches.delete(project: input.path.project, input.path.branch, force: input.query.force ?? false)
        return .ok(.init(body: .json(.init(deleted))))
    }

    func resetBranch(_ input: Operations.ResetBranch.Input) async throws -> Operations.ResetBranch.Output {
        .ok(.init(body: .json(.init(try await engine.restores.reset(project: input.path.project, branch: input.path.branch)))))
    }

    func updateSnapshot(_ input: Operations.UpdateSnapshot.Input) async throws -> Operations.UpdateSnapshot.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let snapshot = try await engine.snapshots.setPinned(project: input.path.project, input.path.snapshot, pinned: body.pinned)
        return .ok(.init(body: .json(.init(snapshot))))
    }

    func renameBranch(_ input: Operations.RenameBranch.Input) async throws -> Operations.RenameBranch.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        return .ok(.init(body: .json(.init(try await engine.renames.rename(project: input.path.project, input.path.branch, to: body.name)))))
    }

    func startBranch(_ input: Operations.StartBranch.Input) async throws -> Operations.StartBranch.Output {
        .ok(.init(body: .json(.init(try await engine.branches.start(project: input.path.project, input.path.branch)))))
    }

    func stopBranch(_ input: Operations.StopBranch.Input) async throws -> Operations.StopBranch.Output {
        .ok(.init(body: .json(.init(try await engine.branches.stop(project: input.path.project, input.path.branch)))))
    }

    func getBranchConnection(_ input: Operations.GetBranchConnection.Input) async throws -> Operations.GetBranchConnection.Output {
        let connection = try await engine.branches.connection(
            project: input.path.project, input.path.branch, pooled: input.query.pooled ?? false)
        return .ok(.init(body: .json(.init(connection))))
    }

    func exportBranch(_ input: Operations.ExportBranch.Input) async throws -> Operations.ExportBranch.Output {
        let format = try Self.exportFormat(input.query.format)
        let stream = try await engine.branches.export(project: input.path.project, branch: input.path.branch, format: format, table: input.query.table)
        let body = HTTPBody(stream.map { ArraySlice($0) }, length: .unknown, iterationBehavior: .single)
        return .ok(.init(body: format == .json ? .applicationXNdjson(body) : .applicationSql(body)))
    }

    /// An export's `format` query value (default sql).
    static func exportFormat(_ text: String?) throws -> ExportFormat {
        let text = text ?? ExportFormat.sql.rawValue
        guard let format = ExportFormat(rawValue: text) else {
            throw APIInputError(message: "Export format '\(text)' is not known.", hint: "Use sql or json.")
        }
        return format
    }

    func getBranchLogs(_ input: Operations.GetBranchLogs.Input) async throws -> Operations.GetBranchLogs.Output {
        let stream = try await engine.observability.logs(
            project: input.path.project, branch: input.path.branch, lines: input.query.lines ?? 100, follow: input.query.follow ?? false)
        return .ok(.init(body: .plainText(HTTPBody(stream.map { ArraySlice($0.utf8) }, length: .unknown, iterationBehavior: .single))))
    }

    // MARK: Snapshots

    func listSnapshots(_ input: Operations.ListSnapshots.Input) async throws -> Operations.ListSnapshots.Output {
        .ok(.init(body: .json(.init(snapshots: try await engine.snapshots.list(project: input.path.project).map(Schemas.SnapshotInfo.init)))))
    }

    func createSnapshot(_ input: Operations.CreateSnapshot.Input) async throws -> Operations.CreateSnapshot.Output {
        var request = Schemas.CreateSnapshotRequest()
        if case .json(let body)? = input.body { request = body }
        let created = try await engine.snapshots.create(project: input.path.project, branch: request.branch, name: request.name)
        return .created(.init(body: .json(.init(operation: Schemas.OperationTiming(created.operation), snapshot: Schemas.SnapshotInfo(created.snapshot)))))
    }

    func getSnapshot(_ input: Operations.GetSnapshot.Input) async throws -> Operations.GetSnapshot.Output {
        .ok(.init(body: .json(.init(try await engine.snapshots.get(project: input.path.project, input.path.snapshot)))))
    }

    func deleteSnapshot(_ input: Operations.DeleteSnapshot.Input) async throws -> Operations.DeleteSnapshot.Output {
        .ok(.init(body: .json(.init(try await engine.snapshots.delete(project: input.path.project, input.path.snapshot)))))
    }

    func restoreSnapshot(_ input: Operations.RestoreSnapshot.Input) async throws -> Operations.RestoreSnapshot.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let restored = try await engine.restores.restore(
            project: input.path.project, snapshot: input.path.snapshot, as: body._as, inPlace: body.inPlace ?? false, branch: body.branch,
            table: body.table)
        return .ok(.init(body: .json(.init(restored))))
    }

    // MARK: Schedules

    func listSchedules(_ input: Operations.ListSchedules.Input) async throws -> Operations.ListSchedules.Output {
        .ok(.init(body: .json(.init(schedules: try await engine.schedules.list(project: input.path.project).map(Schemas.ScheduleInfo.init)))))
    }

    func setSchedule(_ input: Operations.SetSchedule.Input) async throws -> Operations.SetSchedule.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let change = ScheduleChange(
            expression: body.expression, enabled: body.enabled, keepLast: body.keepLast, hourly: body.hourly, daily: body.daily,
            weekly: body.weekly, monthly: body.monthly, webhookURL: body.webhookURL, webhookSlack: body.webhookSlack)
        return .ok(.init(body: .json(.init(try await engine.schedules.set(project: input.path.project, kind: input.path.kind, change)))))
    }

    func deleteSchedule(_ input: Operations.DeleteSchedule.Input) async throws -> Operations.DeleteSchedule.Output {
        let remaining = try await engine.schedules.delete(project: input.path.project, kind: input.path.kind)
        return .ok(.init(body: .json(.init(schedules: remaining.map(Schemas.ScheduleInfo.init)))))
    }

    // MARK: Backups

    func createBackup(_ input: Operations.CreateBackup.Input) async throws -> Operations.CreateBackup.Output {
        var branch: String?
        if case .json(let body)? = input.body { branch = body.branch }
        return .accepted(.init(body: .json(.init(try await engine.backups.create(project: input.path.project, branch: branch)))))
    }

    func listBackups(_ input: Operations.ListBackups.Input) async throws -> Operations.ListBackups.Output {
        let backups = try await engine.backups.list(project: input.query.project, remote: input.query.remote ?? false)
        let verifications = try await engine.backups.verifications(project: input.query.project)
        return .ok(.init(body: .json(.init(
            backups: backups.map(Schemas.BackupInfo.init), keyID: engine.backups.keyID, retiredKeyIDs: engine.backups.retiredKeyIDs, verifications: verifications.map(Schemas.BackupVerification.init)))))
    }

    func exportBackup(_ input: Operations.ExportBackup.Input) async throws -> Operations.ExportBackup.Output {
        let format = try Self.exportFormat(input.query.format)
        let stream = try await engine.backups.export(input.path.backup, format: format, table: input.query.table)
        let body = HTTPBody(stream.map { ArraySlice($0) }, length: .unknown, iterationBehavior: .single)
        return .ok(.init(body: format == .json ? .applicationXNdjson(body) : .applicationSql(body)))
    }

    func getBackup(_ input: Operations.GetBackup.Input) async throws -> Operations.GetBackup.Output {
        .ok(.init(body: .json(.init(try await engine.backups.get(input.path.backup)))))
    }

    func deleteBackup(_ input: Operations.DeleteBackup.Input) async throws -> Operations.DeleteBackup.Output {
        .ok(.init(body: .json(.init(try await engine.backups.delete(input.path.backup)))))
    }

    func restoreBackup(_ input: Operations.RestoreBackup.Input) async throws -> Operations.RestoreBackup.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        return .accepted(.init(body: .json(.init(try await engine.backups.restore(input.path.backup, as: body._as, project: body.project)))))
    }

    func verifyBackup(_ input: Operations.VerifyBackup.Input) async throws -> Operations.VerifyBackup.Output {
        .accepted(.init(body: .json(.init(try await engine.backups.verify(input.path.backup)))))
    }

    // MARK: Diff and merge

    func diff(_ input: Operations.Diff.Input) async throws -> Operations.Diff.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let stream = try await engine.diffs.start(
            project: input.path.project,
            DiffOptions(
                from: body.from, to: body.to, tables: body.tables, schemas: body.schemas, schemaOnly: body.schemaOnly ?? false,
                summary: body.summary ?? false, limit: body.limit, cursor: body.cursor, rowsOf: body.rowsOf))
        return .ok(.init(body: .applicationXNdjson(HTTPBody(DiffLineStream(events: stream), length: .unknown, iterationBehavior: .single))))
    }

    func merge(_ input: Operations.Merge.Input) async throws -> Operations.Merge.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        func side(_ text: String?, _ what: String) throws -> MergeOptions.Side? {
            guard let text else { return nil }
            guard let side = MergeOptions.Side(rawValue: text) else {
                throw APIInputError(message: "\(what) is source or target, not '\(text)'.")
            }
            return side
        }
        let options = MergeOptions(
            source: body.source, into: body.into, prefer: try side(body.prefer, "--prefer"),
            resolutions: try (body.resolutions ?? []).map { resolution in
                MergeOptions.Resolution(
                    table: resolution.table, key: resolution.key.additionalProperties, take: try side(resolution.take, "A resolution")!,
                    cells: try (resolution.cells?.additionalProperties ?? [:]).mapValues { try side($0.rawValue, "A cell's side")! },
                    values: resolution.values?.additionalProperties ?? [:])
            },
            allowDestructive: body.allowDestructive ?? false, dryRun: body.dryRun ?? false)
        return .ok(.init(body: .json(.init(try await engine.merges.merge(project: input.path.project, options)))))
    }
}

/// A request the document allows but the values do not make sense.
struct APIInputError: ReportableError {
    static let body = APIInputError(message: "The request needs a JSON body.")

    var message: String
    var hint: String? = "See the OpenAPI document at /api/v1/openapi.json."
    var code: ErrorCode { .invalidRequest }
}

/// The diff's results as NDJSON pieces of about 64 KiB (or a table's end): one write per line would flood the
/// connection's event loop with tasks, and NIO serves no other connection on that loop until its
/// task queue is empty (a diff of 3 M rows stalled every second request for minutes). A failure
/// after the first piece becomes a last `error` line.
struct DiffLineStream: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    let events: DiffStream

    func makeAsyncIterator() -> Iterator { Iterator(events: events.makeAsyncIterator()) }

    struct Iterator: AsyncIteratorProtocol {
        var events: DiffStream.Iterator
        var writer = DiffLineWriter()
        var done = false

        mutating func next() async throws -> ArraySlice<UInt8>? {
            if done { return nil }
            do {
                // A piece goes out when it is full, or at the end of a table, so a slow diff shows progress.
                var pieceDone = false
                while !pieceDone {
                    guard let batch = try await events.next() else {
                        done = true
                        break
                    }
                    for event in batch {
                        writer.write(event)
                        if case .table = event { pieceDone = true }
                    }
                    if writer.bytes.count >= 64 << 10 { pieceDone = true }
                }
            } catch let error as any ReportableError {
                writer.writeError(code: error.code.rawValue, message: error.message, hint: error.hint)
                done = true
            } catch is CancellationError {
                done = true
            } catch {
                writer.writeError(code: ErrorCode.internalError.rawValue, message: "\(error)", hint: nil)
                done = true
            }
            let piece = writer.take()
            return piece.isEmpty ? nil : ArraySlice(piece)
        }
    }
}

/// The document this service was built from, as served at /api/v1/openapi.json.
enum OpenAPIText {
    static var document: Schemas.OpenAPIDocument {
        get throws { try parsed.get() }
    }

    private static let parsed: Result<Schemas.OpenAPIDocument, any Error> = Result {
        try JSONDecoder().decode(Schemas.OpenAPIDocument.self, from: Data(APIDocument.text.utf8))
    }
}
