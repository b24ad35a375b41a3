import BranchAPI
import Foundation
import Hummingbird
import NIOCore
import OpenAPIRuntime

/// `/projects/{p}/monitoring?branch=B&range=1h`: server-rendered SVG charts of a branch's CPU,
/// memory, IO, connections and size (getMetrics), its restarts and events, its log with filters,
/// and the top queries of pg_stat_statements. Two event streams keep the page live:
/// `/monitoring/stream` (a sample every 5 s) and `/monitoring/logs/stream` (new log lines).
struct MonitoringPages: Sendable {
    let environment: ConsoleEnvironment

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/monitoring") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            return try await page(project, query: request.uri.queryParameters)
        }
        pages.get("/projects/:project/monitoring/branches") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            return try await branchesPage(project, query: request.uri.queryParameters)
        }
        pages.get("/projects/:project/monitoring/stream") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let branch = try await branch(project, request.uri.queryParameters["branch"].map(String.init))
            return try EventStream.response { send in try await samples(project, branch, send: send) }
        }
        pages.get("/projects/:project/monitoring/logs/stream") { request, context -> Response in
            let project = try ProjectSettingsPages.project(context)
            let query = request.uri.queryParameters
            let branch = try await branch(project, query["branch"].map(String.init))
            let filter = Self.filter(query)
            return try EventStream.response { send in try await follow(project, branch, filter, send: send) }
        }
    }

    static func filter(_ query: Hummingbird.Parameters) -> LogLine.Filter {
        LogLine.Filter(level: query["level"].map(String.init) ?? "", component: query["component"].map(String.init) ?? "",
                       search: query["q"].map(String.init) ?? "")
    }

    /// The branch asked for, else the checked-out one (getProject also answers 404 for a project the user may not see).
    func branch(_ project: String, _ asked: String?) async throws -> String {
        let info = try await environment.call("getProject", project: project) {
            try await $0.getProject(.init(path: .init(project: project))).ok.body.json
        }
        return asked.flatMap { $0.isEmpty ? nil : $0 } ?? info.checkedOut
    }

    func metrics(_ project: String, _ branch: String, minutes: Int) async throws -> Components.Schemas.MetricsResponse {
        try await environment.call("getMetrics", project: project) {
            try await $0.getMetrics(.init(query: .init(project: project, branch: branch, minutes: minutes))).ok.body.json
        }
    }

    /// One JSON sample every 5 s, the newest of the branch, until the client goes away.
    func samples(_ project: String, _ branch: String, send: EventStream.Send) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var last: Date?
        while !Task.isCancelled {
            let response = try await metrics(project, branch, minutes: 0)
            if let sample = response.series.first(where: { $0.branch == branch })?.samples.last {
                let data = String(decoding: try encoder.encode(sample), as: UTF8.self)
                try await send(sample.at == last ? "heartbeat" : "sample", data)
                last = sample.at
            } else {
                try await send("heartbeat", "{}")
            }
            try await Task.sleep(for: .seconds(5))
        }
    }

    /// New log lines that pass the filter, relayed from getBranchLogs' follow mode.
    func follow(_ project: String, _ branch: String, _ filter: LogLine.Filter, send: EventStream.Send) async throws {
        let body = try await environment.call("getBranchLogs", project: project) {
            try await $0.getBranchLogs(.init(path: .init(project: project, branch: branch), query: .init(lines: 0, follow: true))).ok.body.plainText
        }
        let token = try ConsoleSession.required().token
        // The logs API was asked once; the session is checked again every 10 s, so signing out
        // (or the session's expiry) ends the stream even while no line arrives.
        // Both tasks end before this returns, so `send` does not outlive the call.
        try await withoutActuallyEscaping(send) { send in try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var pending = ""
                for try await chunk in body {
                    pending += String(decoding: chunk, as: UTF8.self)
                    while let newline = pending.firstIndex(of: "\n") {
                        let line = LogLine(String(pending[..<newline]))
                        pending = String(pending[pending.index(after: newline)...])
                        if filter.matches(line) { try await send("line", line.text) }
                    }
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(10))
                    guard await environment.gateway.viewer(token: token) != nil else { throw SignInRequired() }
                }
            }
            try await group.next()
            group.cancelAll()
        } }
    }

    func page(_ project: String, query: Hummingbird.Parameters) async throws -> Response {
        let session = try ConsoleSession.required()
        let branch = try await branch(project, query["branch"].map(String.init))
        let (rangeLabel, minutes) = MonitoringModel.range(query["range"].map(String.init))
        let filter = Self.filter(query)
        async let metrics = metrics(project, branch, minutes: minutes)
        async let events = environment.call("listEvents", project: project) {
            try await $0.listEvents(.init(query: .init(project: project, limit: 50))).ok.body.json.events
        }
        async let operations = environment.call("listOperations", project: project) {
            try await $0.listOperations(.init(query: .init(project: project, limit: 20))).ok.body.json.operations
        }
        async let logText = logs(project, branch)
        async let top = topQueries(project, branch, mayQuery: session.viewer.may(.developer, in: project))
        let end = Date()
        let start = end.addingTimeInterval(-Double(minutes * 60))
        let response = try await metrics
        let samples = response.series.first { $0.branch == branch }?.samples ?? []
        let newest = samples.last
        let (lines, logsError) = await logText
        let base = "/projects/\(ConsolePath.segment(project))/monitoring"
        let branchQuery = "branch=" + FormFields.encode(branch)
        let (queries, note) = await top
        let model = MonitoringModel(
            project: project, branch: branch,
            ranges: MonitoringModel.ranges.map { .init(label: $0.0, href: "\(base)?\(branchQuery)&range=\($0.0)", current: $0.0 == rangeLabel) },
            charts: MonitoringModel.charts(samples, from: start, to: end), status: newest?.status ?? "no samples yet",
            statusClass: MonitoringModel.statusClass(newest?.status),
            restarts: newest.map { String($0.restarts) } ?? "0", streamURL: "\(base)/stream?\(branchQuery)",
            events: try await events.filter { $0.branch == nil || $0.branch == branch }.prefix(30).map {
                .init(at: Formatting.utc($0.at), kind: $0.kind, branch: $0.branch ?? "—", detail: $0.detail)
            },
            noEvents: false,
            operations: try await operations.map {
                .init(started: Formatting.utc($0.startedAt), kind: $0.kind, target: $0.target ?? "", state: $0.state,
                      failed: $0.errorCode != nil, duration: $0.durationMs.map { String(format: "%.0f ms", $0) } ?? "",
                      error: [$0.errorCode, $0.errorMessage].compactMap { $0 }.joined(separator: ": "))
            },
            logs: Array(lines.filter(filter.matches).suffix(200)),
            logLevels: ([""] + ["LOG", "WARNING", "ERROR", "FATAL", "PANIC", "NOTICE", "INFO", "DEBUG"]).map { .init(value: $0, label: $0.isEmpty ? "any" : $0, selected: $0 == filter.level) },
            logComponents: ([""] + Set(lines.map(\.component)).union(filter.component.isEmpty ? [] : [filter.component]).sorted())
                .map { .init(value: $0, label: $0.isEmpty ? "any" : $0, selected: $0 == filter.component) },
            search: filter.search, logStreamURL: "\(base)/logs/stream?\(branchQuery)" + (filter.query.isEmpty ? "" : "&" + filter.query),
            logsError: logsError, topQueries: queries, topQueriesNote: note,
            intervalSeconds: ChartGeometry.compact(response.intervalSeconds), allBranchesHref: "\(base)/branches?range=\(rangeLabel)")
        var filled = model
        filled.noEvents = model.events.isEmpty
        return try await environment.page(
            "monitoring", title: "Observability · \(project)", project: project, branch: branch, section: .monitoring,
            cli: "branch top --project \(project)", script: "monitoring.js", body: filled)
    }

    /// `/monitoring/branches`: every branch of the project on the same charts, and a table of their
    /// latest samples, to see at once which branch takes the CPU, the memory or the connections.
    func branchesPage(_ project: String, query: Hummingbird.Parameters) async throws -> Response {
        // getProject answers 404 for a project the user may not see, before any metric is read.
        _ = try await branch(project, nil)
        let (rangeLabel, minutes) = MonitoringModel.range(query["range"].map(String.init))
        let response = try await environment.call("getMetrics", project: project) {
            try await $0.getMetrics(.init(query: .init(project: project, minutes: minutes))).ok.body.json
        }
        let series = response.series.filter { $0.project == project }
            .sorted { ($0.branch == "main" ? 0 : 1, $0.branch) < ($1.branch == "main" ? 0 : 1, $1.branch) }
        let end = Date()
        let start = end.addingTimeInterval(-Double(minutes * 60))
        let base = "/projects/\(ConsolePath.segment(project))/monitoring"
        let model = BranchesMonitoringModel(
            project: project,
            ranges: MonitoringModel.ranges.map { .init(label: $0.0, href: "\(base)/branches?range=\($0.0)", current: $0.0 == rangeLabel) },
            charts: BranchesMonitoringModel.charts(series, from: start, to: end),
            rows: BranchesMonitoringModel.rows(series) { "\(base)?branch=\(FormFields.encode($0))&range=\(rangeLabel)" },
            empty: series.isEmpty, branchHref: base, intervalSeconds: ChartGeometry.compact(response.intervalSeconds))
        return try await environment.page(
            "monitoring-branches", title: "Observability · all branches · \(project)", project: project, section: .monitoring,
            cli: "branch top --project \(project)", body: model)
    }

    /// The last 500 lines of the branch's log; a stopped branch's log may be unreadable, which the page says.
    func logs(_ project: String, _ branch: String) async -> ([LogLine], String?) {
        do {
            let text = try await environment.call("getBranchLogs", project: project) {
                try await String(collecting: try $0.getBranchLogs(.init(path: .init(project: project, branch: branch), query: .init(lines: 500))).ok.body.plainText,
                                 upTo: 8 << 20)
            }
            return (text.split(separator: "\n").map { LogLine(String($0)) }, nil)
        } catch let failure as ConsoleFailure {
            return ([], "\(failure.message) (\(failure.code))")
        } catch {
            return ([], "The log could not be read.")
        }
    }

    /// pg_stat_statements' ten most expensive statements, or how to enable it.
    func topQueries(_ project: String, _ branch: String, mayQuery: Bool) async -> ([MonitoringModel.TopQuery], String?) {
        guard mayQuery else { return ([], "Developers and owners see the top queries (they run SQL on the branch).") }
        let sql = ProjectSQL(environment: environment, project: project, branch: branch)
        do {
            let installed = try await sql.rows("select count(*) from pg_extension where extname = 'pg_stat_statements'")
            guard installed.first?.first == "1" else {
                return ([], "pg_stat_statements is not installed on this branch. Enable it with: create extension pg_stat_statements; (it needs shared_preload_libraries = 'pg_stat_statements').")
            }
            let rows = try await sql.rows("""
                select left(query, 300), calls::text, round(total_exec_time::numeric, 1)::text, round(mean_exec_time::numeric, 2)::text, rows::text
                from pg_stat_statements order by total_exec_time desc limit 10
                """)
            return (rows.map { .init(query: $0[0] ?? "", calls: $0[1] ?? "", totalMs: $0[2] ?? "", meanMs: $0[3] ?? "", rows: $0[4] ?? "") }, nil)
        } catch let failure as ConsoleFailure {
            return ([], "pg_stat_statements is not readable here: \(failure.message) Enable it with: create extension pg_stat_statements;")
        } catch {
            return ([], "pg_stat_statements is not readable here.")
        }
    }
}
