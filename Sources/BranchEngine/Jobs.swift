import BranchAPI
import BranchCore
import Foundation

/// Long operations in flight (backups, restores, verifications) and their progress, for clients
/// that poll `GET /api/v1/jobs/{id}`. Finished jobs are kept an hour.
actor Jobs {
    private var jobs: [String: JobInfo] = [:]
    private var started: [String: ContinuousClock.Instant] = [:]

    func start(id: String, kind: String, project: String?) -> JobInfo {
        prune()
        let job = JobInfo(id: id, kind: kind, project: project, status: "running", startedAt: Date())
        jobs[id] = job
        started[id] = .now
        return job
    }

    func progress(_ id: String, bytes: UInt64? = nil, step: String? = nil) {
        guard var job = jobs[id] else { return }
        if let bytes {
            job.bytesDone = bytes
            let elapsed = started[id].map { (ContinuousClock.now - $0).seconds } ?? 0
            job.bytesPerSecond = elapsed > 0 ? Double(bytes) / elapsed : 0
        }
        if let step { job.step = step }
        jobs[id] = job
    }

    func update(_ id: String, _ change: (inout JobInfo) -> Void) {
        guard var job = jobs[id] else { return }
        change(&job)
        jobs[id] = job
    }

    func finish(_ id: String, error: (any Error)? = nil) {
        guard var job = jobs[id] else { return }
        job.finishedAt = Date()
        job.durationMs = started[id].map { (ContinuousClock.now - $0).seconds * 1000 }
        job.step = nil
        if let error {
            job.status = "failed"
            let reportable = error as? any ReportableError
            job.errorCode = (reportable?.code ?? .internalError).rawValue
            job.errorMessage = reportable?.message ?? "\(error)"
            job.errorHint = reportable?.hint
        } else {
            job.status = "succeeded"
        }
        jobs[id] = job
    }

    func get(_ id: String) -> JobInfo? { jobs[id] }

    private func prune() {
        let cutoff = Date().addingTimeInterval(-3600)
        for (id, job) in jobs where (job.finishedAt ?? .distantFuture) < cutoff {
            jobs[id] = nil
            started[id] = nil
        }
    }
}
