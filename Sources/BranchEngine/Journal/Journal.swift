import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

/// One running operation: its journal entry, step timings, and the undo actions registered as it
/// goes. If the operation throws, the undo actions run newest first; if the service dies instead,
/// start-up reconciliation finds the entry still `running` and repairs what it left.
final class OperationContext {
    let id: String
    let kind: String
    private let stopwatch = Stopwatch()
    private(set) var steps: [OperationTiming.Step] = []
    private var undo: [(name: String, action: () async throws -> Void)] = []

    init(id: String, kind: String) {
        self.id = id
        self.kind = kind
    }

    /// Runs and times one named step.
    @discardableResult
    func step<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
        let watch = Stopwatch()
        defer { steps.append(.init(name: name, ms: watch.milliseconds)) }
        return try await body()
    }

    /// Registers how to undo what just succeeded, should a later step fail.
    func onFailure(_ name: String, _ action: @escaping () async throws -> Void) {
        undo.append((name, action))
    }

    /// What was done so far stands even if a later step fails: the undo actions registered until
    /// now are dropped (a rename whose catalog changed is not moved back because its server
    /// then failed to start).
    func keepWhatIsDone() { undo.removeAll() }

    var timing: OperationTiming { OperationTiming(id: id, durationMs: stopwatch.milliseconds, steps: steps) }

    fileprivate func rollBack(logger: Logger) async {
        for entry in undo.reversed() {
            do {
                try await entry.action()
            } catch {
                logger.error("undo step failed", metadata: ["operation": "\(id)", "step": "\(entry.name)", "error": "\(error)"])
            }
        }
        undo.removeAll()
    }
}

/// Writes operations to the catalog's journal and runs them with rollback on failure.
struct Journal {
    let catalog: Catalog
    let logger: Logger

    /// Runs `body` as a journaled operation. Cancellation of the calling task does not interrupt
    /// it: a half-done operation is worse than a late answer.
    func run<T: Sendable>(
        _ kind: String, project: ResourceName?, target: String?,
        _ body: @escaping @Sendable (OperationContext) async throws -> T
    ) async throws -> (T, OperationTiming) {
        let catalog = self.catalog
        let logger = self.logger
        return try await Task {
            let context = OperationContext(id: Identifiers.shortID(length: 12), kind: kind)
            let record = OperationRecord(id: context.id, kind: kind, project: project?.rawValue, target: target, startedAt: Date())
            try await catalog.write { try $0.insert(record) }
            do {
                let result = try await body(context)
                let timing = context.timing
                try await catalog.write { tx in
                    guard var entry = try tx.operation(record.id) else { return }
                    entry.state = .succeeded
                    entry.finishedAt = Date()
                    entry.durationMs = timing.durationMs
                    try tx.update(entry)
                }
                logger.info("operation succeeded", metadata: [
                    "operation": "\(context.id)", "kind": "\(kind)", "target": "\(target ?? "")", "ms": "\(timing.durationMs)",
                ])
                return (result, timing)
            } catch {
                await context.rollBack(logger: logger)
                let reportable = error as? any ReportableError
                let timing = context.timing
                try? await catalog.write { tx in
                    guard var entry = try tx.operation(record.id) else { return }
                    entry.state = .failed
                    entry.finishedAt = Date()
                    entry.durationMs = timing.durationMs
                    entry.errorCode = (reportable?.code ?? .internalError).rawValue
                    entry.errorMessage = reportable?.message ?? "\(error)"
                    try tx.update(entry)
                }
                logger.warning("operation failed", metadata: [
                    "operation": "\(context.id)", "kind": "\(kind)", "target": "\(target ?? "")", "error": "\(error)",
                ])
                throw error
            }
        }.value
    }
}
