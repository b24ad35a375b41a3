package import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import BranchCore

/// A long operation the API starts and clients poll (a backup, a restore, a verification).
package struct Job: Sendable {
    package enum Status: String, Sendable { case running, succeeded, failed }

    /// What a finished job produced.
    package enum Outcome: Sendable {
        case backup(BackupSummary)
        case branch(BranchView)
        case verify(VerifyReport)
        case imported(ImportReport)
    }

    /// What a job does; the raw value is the API's `kind`.
    package enum Kind: String, Sendable {
        case backupCreate = "backup.create"
        case backupRestore = "backup.restore"
        case backupVerify = "backup.verify"
        case projectImport = "project.import"
    }

    /// An import's counts: tables, rows and bytes copied, and the seconds left at the rate so far.
    package struct Counts: Sendable {
        package var tablesDone = 0
        package var tablesTotal = 0
        package var rowsDone: UInt64 = 0
        package var bytesTotal: UInt64 = 0
        package var etaSeconds: Double?
    }

    package var id: String
    package var kind: Kind
    package var project: String?
    package var status: Status
    package var startedAt: Date
    package var finishedAt: Date?
    package var durationMs: Double?
    package var bytesDone: UInt64 = 0
    package var bytesPerSecond: Double = 0
    package var step: String?
    package var counts: Counts?
    /// The user who started it (an import's project has no members until it exists).
    package var startedBy: String?
    /// Why it failed.
    package var error: (code: String, message: String, hint: String?)?
    /// What it produced, also while running (a backup's record as it is written).
    package var outcome: Outcome?
}

/// What a job's work reports as it goes.
struct JobProgress: Sendable {
    let id: String
    fileprivate let runner: JobRunner

    func step(_ step: String) { runner.update(id) { $0.step = step } }

    func bytes(_ done: UInt64) {
        runner.update(id) { job in
            job.bytesDone = done
            let elapsed = Date().timeIntervalSince(job.startedAt)
            job.bytesPerSecond = elapsed > 0 ? Double(done) / elapsed : 0
        }
    }

    func outcome(_ outcome: Job.Outcome) { runner.update(id) { $0.outcome = outcome } }

    func counts(_ counts: Job.Counts, bytes: UInt64) {
        runner.update(id) { job in
            job.counts = counts
            job.bytesDone = bytes
            let elapsed = Date().timeIntervalSince(job.startedAt)
            job.bytesPerSecond = elapsed > 0 ? Double(bytes) / elapsed : 0
        }
    }
}

/// Owns every job: each runs as a child task of this service's task group, so none outlives the
/// service; on graceful shutdown running jobs are cancelled (journaled ones roll back) and waited
/// for. Finished jobs are kept an hour for clients that poll them.
package final class JobRunner: Service, Sendable {
    struct Submission: Sendable {
        let id: String
        let work: @Sendable (JobProgress) async throws -> Job.Outcome?
        /// Finished once the job's record says how it ended.
        var ended: AsyncStream<Void>.Continuation?
    }

    private let jobs = Mutex<[String: Job]>([:])
    private let submissions: AsyncStream<Submission>
    private let submit: AsyncStream<Submission>.Continuation
    private let logger: Logger

    init(logger: Logger) {
        (submissions, submit) = AsyncStream.makeStream()
        self.logger = logger
    }

    /// Registers a job and hands its work to the runner; returns the job as it starts.
    @discardableResult
    func start(
        id: String = Identifiers.shortID(length: 12), kind: Job.Kind, project: String?, startedBy: String? = nil,
        _ work: @escaping @Sendable (JobProgress) async throws -> Job.Outcome?
    ) -> Job {
        submitJob(Submission(id: id, work: work), kind: kind, project: project, startedBy: startedBy)
    }

    /// Runs `work` as a job and waits until it ended (a scheduled backup: the scheduler waits, and
    /// clients can poll it meanwhile).
    func run(
        id: String = Identifiers.shortID(length: 12), kind: Job.Kind, project: String?,
        _ work: @escaping @Sendable (JobProgress) async throws -> Job.Outcome?
    ) async -> Job {
        let ended = AsyncStream<Void>.makeStream()
        let job = submitJob(Submission(id: id, work: work, ended: ended.continuation), kind: kind, project: project)
        for await _ in ended.stream {}
        return get(id) ?? job
    }

    private func submitJob(_ submission: Submission, kind: Job.Kind, project: String?, startedBy: String? = nil) -> Job {
        var job = Job(id: submission.id, kind: kind, project: project, status: .running, startedAt: Date())
        job.startedBy = startedBy
        jobs.withLock { jobs in
            let cutoff = Date().addingTimeInterval(-3600)
            jobs = jobs.filter { ($0.value.finishedAt ?? .distantFuture) >= cutoff }
            jobs[job.id] = job
        }
        submit.yield(submission)
        return job
    }

    package func get(_ id: String) -> Job? { jobs.withLock { $0[id] } }

    fileprivate func update(_ id: String, _ change: (inout Job) -> Void) {
        jobs.withLock { jobs in
            guard var job = jobs[id] else { return }
            change(&job)
            jobs[id] = job
        }
    }

    package func run() async throws {
        await withDiscardingTaskGroup { group in
            for await submission in submissions.cancelOnGracefulShutdown() {
                group.addTask { await self.execute(submission) }
            }
            group.cancelAll()
        }
    }

    private func execute(_ submission: Submission) async {
        let progress = JobProgress(id: submission.id, runner: self)
        do {
            let outcome = try await submission.work(progress)
            finish(submission.id, outcome: outcome, error: nil)
        } catch {
            logger.warning("job failed", metadata: ["job": "\(submission.id)", "error": "\(error)"])
            finish(submission.id, outcome: nil, error: error)
        }
        submission.ended?.finish()
    }

    private func finish(_ id: String, outcome: Job.Outcome?, error: (any Error)?) {
        update(id) { job in
            job.finishedAt = Date()
            job.durationMs = job.finishedAt!.timeIntervalSince(job.startedAt) * 1000
            job.step = nil
            if let outcome { job.outcome = outcome }
            if let error {
                job.status = .failed
                let reportable = error as? any ReportableError
                job.error = ((reportable?.code ?? .internalError).rawValue, reportable?.message ?? "\(error)", reportable?.hint)
            } else {
                job.status = .succeeded
            }
        }
    }
}
