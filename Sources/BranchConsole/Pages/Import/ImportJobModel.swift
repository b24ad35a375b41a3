import BranchAPI
import Foundation

/// What the import job page shows of a `project.import` JobInfo: the progress while it runs, the
/// report when it succeeded, the error and its hint when it failed.
struct ImportJobModel: Sendable {
    struct Progress: Sendable {
        var step: String
        var tables: String
        var tablesDone: Int
        var tablesTotal: Int
        var rows: String
        var bytes: String
        var rate: String
        var eta: String
    }

    struct LeftBehind: Sendable {
        var kind: String
        var name: String
        var reason: String
    }

    struct Report: Sendable {
        var project: String
        var href: String
        var source: String
        var sourceVersion: String
        var supabase: Bool
        var tables: Int
        var rows: Int
        var bytes: String
        var schemas: String
        var extensions: String
        var rolesCreated: String
        var authUsers: Int
        var authIdentities: Int
        var migrations: Int
        var notCarried: [LeftBehind]
        var hasNotCarried: Bool
        var warnings: [String]
        var hasWarnings: Bool
        var mirror: String?
        var duration: String
        var apiURL: String?
        var anonKey: String?
        var serviceRoleKey: String?
    }

    var id: String
    var project: String
    var status: String
    var running: Bool
    var started: String
    var refreshHref: String
    var progress: Progress
    var report: Report?
    var error: String?
    var hint: String?
    var form: ImportForm?

    init(_ job: Components.Schemas.JobInfo) {
        id = job.id
        project = job.project ?? job._import?.project?.name ?? ""
        status = job.status
        running = job.status == "running"
        started = Formatting.utc(job.startedAt)
        refreshHref = ImportPages.href(job: job.id)
        let counts = job.counts
        progress = Progress(
            step: job.step ?? (running ? "starting" : "done"),
            tables: counts.map { "\($0.tablesDone) / \($0.tablesTotal)" } ?? "—",
            tablesDone: counts?.tablesDone ?? 0, tablesTotal: max(counts?.tablesTotal ?? 0, 1),
            rows: counts.map { String($0.rowsDone) } ?? "—",
            bytes: Formatting.bytes(job.bytesDone) + (counts.map { " of ~\(Formatting.bytes($0.bytesTotal))" } ?? ""),
            rate: Formatting.bytes(Int(job.bytesPerSecond)) + "/s",
            eta: counts?.etaSeconds.map(Self.duration) ?? "—")
        report = job._import.map { Self.report($0, fallbackName: job.project ?? "") }
        if job.status == "failed" {
            error = "\(job.errorMessage ?? "The import failed.")\(job.errorCode.map { " (\($0))" } ?? "")"
            hint = job.errorHint
            form = ImportForm(again: project)
        }
    }

    static func report(_ report: Components.Schemas.ImportReport, fallbackName: String) -> Report {
        let name = report.project?.name ?? fallbackName
        return Report(
            project: name, href: "/projects/\(ConsolePath.segment(name))", source: report.source, sourceVersion: report.sourceVersion,
            supabase: report.supabase, tables: report.tables, rows: report.rows, bytes: Formatting.bytes(report.bytes),
            schemas: report.schemas.joined(separator: ", "), extensions: report.extensions.isEmpty ? "none" : report.extensions.joined(separator: ", "),
            rolesCreated: report.rolesCreated.isEmpty ? "none" : report.rolesCreated.joined(separator: ", "),
            authUsers: report.authUsers, authIdentities: report.authIdentities, migrations: report.migrations,
            notCarried: report.notCarried.map { LeftBehind(kind: $0.kind, name: $0.name, reason: $0.reason) }, hasNotCarried: !report.notCarried.isEmpty,
            warnings: report.warnings, hasWarnings: !report.warnings.isEmpty, mirror: report.mirror,
            duration: String(format: "%.1f s", report.durationMs / 1000),
            apiURL: report.keys?.url, anonKey: report.keys?.anonKey, serviceRoleKey: report.keys?.serviceRoleKey)
    }

    /// "42 s", "3 min 5 s", "2 h 10 min".
    static func duration(_ seconds: Double) -> String {
        let whole = max(Int(seconds.rounded()), 0)
        switch whole {
        case ..<60: return "\(whole) s"
        case ..<3600: return "\(whole / 60) min \(whole % 60) s"
        default: return "\(whole / 3600) h \(whole % 3600 / 60) min"
        }
    }
}
