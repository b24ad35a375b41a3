package import BranchCatalog
package import Foundation
import Logging

/// The audit log: every mutating request (who, what, on which project, from where, when, how it
/// ended), kept in the catalog for `auditRetentionDays`.
package struct Audit: EnginePart {
    let context: EngineContext

    /// Records one entry. Never fails the request it describes: a failure to record is logged.
    package func record(_ entry: AuditRecord) async {
        let cutoff = entry.at.addingTimeInterval(-Double(configuration.auditRetentionDays) * 86_400)
        // Pruning now and then is enough: the log is read newest first and filtered by time.
        let prune = Int.random(in: 0..<200) == 0
        do {
            try await catalog.write { tx in
                try tx.insert(entry)
                if prune { try tx.pruneAudit(before: cutoff) }
            }
        } catch {
            logger.error("could not record an audit entry", metadata: ["action": "\(entry.action)", "error": "\(error)"])
        }
    }

    /// Entries oldest first, of `project` (nil: all), since `since`, at most the newest `limit`.
    package func entries(project: String?, since: Date?, limit: Int) async throws -> [AuditRecord] {
        try await catalog.read { try $0.audit(project: project, since: since, limit: max(1, min(limit, 100_000))) }
    }
}
