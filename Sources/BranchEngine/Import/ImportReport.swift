import Synchronization

/// What an import carried over and what it could not, for the user to read once it ends.
package struct ImportReport: Sendable {
    /// Something of the source that is not in the new project, and why.
    package struct Left: Sendable, Equatable {
        package let kind: String
        package let name: String
        package let reason: String
    }

    package var project: ProjectView?
    package var source: String
    package var sourceVersion: String
    package var supabase: Bool
    package var schemas: [String] = []
    package var tables = 0
    package var rows: UInt64 = 0
    package var bytes: UInt64 = 0
    package var extensions: [String] = []
    /// Roles the source's grants and policies name that this project did not have: created
    /// without login, so the grants hold (their members and passwords stay behind).
    package var rolesCreated: [String] = []
    package var authUsers = 0
    package var authIdentities = 0
    package var migrations = 0
    package var notCarried: [Left] = []
    /// Things that came over but deserve a look (tables the anon key can reach without RLS).
    package var warnings: [String] = []
    /// A mirror's publication on the source (nil for a one-time import).
    package var mirror: String?
    package var durationMs: Double = 0
    /// The project's data API keys, as `project create` answers them.
    package var keys: ProjectAPIKeys?

    mutating func leave(_ kind: String, _ name: String, _ reason: String) {
        notCarried.append(Left(kind: kind, name: name, reason: reason))
    }
}

/// The report while the import writes it, from several steps and tasks.
final class ImportReportDraft: Sendable {
    private let report: Mutex<ImportReport>

    init(_ report: ImportReport) { self.report = Mutex(report) }

    func change<T>(_ body: (inout ImportReport) -> T) -> T { report.withLock { body(&$0) } }
}
