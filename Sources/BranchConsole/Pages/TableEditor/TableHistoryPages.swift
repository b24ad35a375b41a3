import BranchAPI
import BranchCore
import Foundation
import Hummingbird

/// `/projects/{p}/tables/history?branch=B&table=T&key=K[&column=C][&limit=N][&instant=I…]`: one
/// row's history (or one cell's, with `column`) across the branch's snapshots, instants of its
/// point-in-time window chosen on the page, and now. Each point is read through a temporary
/// branch made from it (a snapshot, or WAL replayed to the instant) and deleted after, two at a
/// time, so the page needs the developer role; the newest `limit` snapshots (8, at most 24) and
/// at most 4 instants are read.
struct TableHistoryPages: Sendable {
    let environment: ConsoleEnvironment

    static let defaultLimit = 8
    static let maximumLimit = 24
    static let maximumInstants = 4

    struct Head: Sendable {
        var name: String
        var href: String
        var key: Bool
    }

    struct Model: Sendable {
        var table: String
        var key: String
        var column: String?
        var heads: [Head]
        var history: RowHistory
        var snapshotsRead: Int
        var snapshotsTotal: Int
        var moreHref: String?
        var rowHref: String
        var wholeRowHref: String
        var backHref: String
        var cli: String
        /// The form that adds an instant: the URL's other fields, and the instants already read.
        var formAction: String
        var hidden: [Field]
        var hasInstants: Bool
        var instantsRead: Int
        var instantLimit: Int
        var canAddInstant: Bool
    }

    struct Field: Sendable {
        var name: String
        var value: String
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/tables/history") { request, context -> Response in
            let location = try await TableLocation.read(request, context: context, environment: environment)
            try await PageAccess.requireWrite(environment, project: location.project)
            let (table, named) = try await TableRowPages(environment: environment).target(location, request: request)
            guard let key = named else { throw ConsoleFailure(status: 400, code: "invalid_request", message: "A row's history needs its key (key=…).") }
            let query = FormFields(request.uri.query ?? "")
            let column = query.text("column").flatMap { table.column($0)?.name }
            let limit = min(max(query.text("limit").flatMap(Int.init) ?? Self.defaultLimit, 1), Self.maximumLimit)
            let instants = try Self.instants(query.all("instant"))
            return try await page(location, table: table, key: key, column: column, limit: limit, instants: instants, keyToken: query.text("key") ?? "")
        }
    }

    /// The row as column → text, whatever columns the table had at that point (a snapshot may
    /// predate a column): every point is read the same way, so their values compare.
    static func rowQuery(_ table: TableCatalog.Table, key: [String: String?]) throws -> String {
        let condition = try EditBatch.keyCondition(key, table: table)
        return "SELECT (SELECT json_object_agg(e.key, e.value) FROM json_each_text(row_to_json(r)) e)::text "
            + "FROM (SELECT * FROM \(table.sql) WHERE \(condition)) r"
    }

    /// The instants asked for (ISO 8601 or a form's datetime-local, read as UTC), oldest first,
    /// each once; one that does not parse, one in the future or more than four are a 400.
    static func instants(_ texts: [String]) throws -> [Date] {
        let dates = try Set(texts.filter { !$0.isEmpty }.map { text -> Date in
            guard let date = Formatting.instant(text) else {
                throw ConsoleFailure(status: 400, code: "invalid_request", message: "'\(text)' is not an instant (like 2026-01-15T11:45:00Z).")
            }
            guard date <= Date() else {
                throw ConsoleFailure(status: 400, code: "invalid_request", message: "\(Formatting.utc(date)) is in the future.")
            }
            return date
        }).sorted()
        guard dates.count <= maximumInstants else {
            throw ConsoleFailure(status: 400, code: "invalid_request", message: "A history reads at most \(maximumInstants) instants at once.")
        }
        return dates
    }

    /// `{"column": "text" or null}` as the history compares it.
    static func values(_ json: String) throws -> [String: String?] {
        guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return [:] }
        return object.mapValues { $0 as? String }
    }

    func page(
        _ location: TableLocation, table: TableCatalog.Table, key: [String: String?], column: String?, limit: Int, instants: [Date],
        keyToken: String
    ) async throws -> Response {
        let project = location.project, branch = location.branch
        let snapshots = try await environment.call("listSnapshots", project: project) {
            try await $0.listSnapshots(.init(path: .init(project: project))).ok.body.json.snapshots
        }.filter { $0.sourceBranch == branch }.sorted { $0.createdAt > $1.createdAt }
        let chosen = Array(snapshots.prefix(limit))
        // Every point to read, oldest first: the chosen snapshots and the instants, by time.
        enum Point: Sendable {
            case snapshot(Components.Schemas.SnapshotInfo)
            case instant(Date)
        }
        let points: [Point] = (chosen.map { ($0.createdAt, Point.snapshot($0)) } + instants.map { ($0, Point.instant($0)) })
            .sorted { $0.0 < $1.0 }.map(\.1)
        let query = try Self.rowQuery(table, key: key)
        let base = "/projects/\(ConsolePath.segment(project))"
        let keyFilter = table.key.first.flatMap { first in key[first.name].map { "&key=" + FormFields.encode($0 ?? "") } } ?? ""
        func diffHref(_ from: String) -> String {
            "\(base)/diff?from=\(FormFields.encode(from))&to=\(FormFields.encode(branch))&table=\(FormFields.encode(table.id))\(keyFilter)"
        }
        // The row at one point: nil when it did not exist, a note when the point could not be read.
        @Sendable func read(on name: String) async -> (values: [String: String?]?, note: String?) {
            do {
                let text = try await EditorSQL(environment: environment, project: project, branch: name).rows(query).first?.first ?? nil
                return (try text.map(Self.values), nil)
            } catch let failure as ConsoleFailure {
                return (nil, "not readable: \(failure.message)")
            } catch {
                return (nil, "not readable: \(error)")
            }
        }
        let temporary = TemporaryBranch(environment: environment, project: project)
        var readings = [RowHistory.Reading?](repeating: nil, count: points.count)
        // Two points at a time: each is a branch to make, read and delete.
        try await withThrowingTaskGroup(of: (Int, RowHistory.Reading).self) { group in
            var next = 0
            func start() {
                guard next < points.count else { return }
                let index = next, point = points[index]
                next += 1
                group.addTask {
                    // What the row names the point, when it was, and the diff side that is this point.
                    let (label, when, side): (String, String, String) =
                        switch point {
                        case .snapshot(let snapshot):
                            ("snapshot " + (snapshot.name ?? snapshot.id) + " (\(snapshot.kind))", Formatting.utc(snapshot.createdAt), snapshot.id)
                        case .instant(let instant):
                            ("\(branch) at an instant", Formatting.utc(instant), "\(branch)@" + ISO8601DateFormatter().string(from: instant))
                        }
                    do {
                        let found: (values: [String: String?]?, note: String?)
                        switch point {
                        case .snapshot(let snapshot): found = try await temporary.from(snapshot: snapshot.id, prefix: "history") { await read(on: $0) }
                        case .instant(let instant): found = try await temporary.at(.instant(instant), of: branch, prefix: "history") { await read(on: $0) }
                        }
                        return (index, .init(label: label, when: when, diffHref: diffHref(side), values: found.values, note: found.note))
                    } catch let failure as ConsoleFailure where failure.status != 403 {
                        return (index, .init(label: label, when: when, diffHref: nil, values: nil, note: "not readable: \(failure.message)"))
                    }
                }
            }
            start()
            start()
            while let (index, reading) = try await group.next() {
                readings[index] = reading
                start()
            }
        }
        let now = await read(on: branch)
        let all = readings.compactMap { $0 } + [RowHistory.Reading(label: "\(branch) now", when: "now", diffHref: nil, values: now.values, note: now.note)]
        let shown = column.map { chosenColumn in table.key.map(\.name).filter { $0 != chosenColumn } + [chosenColumn] } ?? table.columns.map(\.name)
        let instantItems = instants.map { ("instant", ISO8601DateFormatter().string(from: $0)) }
        let here = location.href("/history", extra: [("key", keyToken)] + instantItems)
        let model = Model(
            table: table.id, key: table.key.map { "\($0.name) = \((key[$0.name] ?? nil) ?? "NULL")" }.joined(separator: ", "), column: column,
            heads: shown.map { name in
                Head(
                    name: name, href: location.href("/history", extra: [("key", keyToken), ("column", name)] + instantItems),
                    key: table.column(name)?.keyPosition != nil)
            },
            history: RowHistory(readings: Array(all), columns: shown), snapshotsRead: chosen.count, snapshotsTotal: snapshots.count,
            moreHref: snapshots.count > chosen.count && limit < Self.maximumLimit
                ? here + (column.map { "&column=" + FormFields.encode($0) } ?? "") + "&limit=\(min(limit * 3, Self.maximumLimit))" : nil,
            rowHref: location.href("/row", extra: [("key", keyToken)]), wholeRowHref: here, backHref: location.href(),
            cli: "branch diff SNAPSHOT \(branch) --table \(table.id) --project \(project)",
            formAction: location.base + "/history",
            hidden: ([("branch", branch), ("table", table.id), ("key", keyToken)] + (location.at.map { [("at", $0)] } ?? [])
                + (column.map { [("column", $0)] } ?? []) + (limit != Self.defaultLimit ? [("limit", String(limit))] : []) + instantItems)
                .map { Field(name: $0.0, value: $0.1) },
            hasInstants: !instants.isEmpty, instantsRead: instants.count, instantLimit: Self.maximumInstants, canAddInstant: instants.count < Self.maximumInstants)
        return try await environment.page(
            "tables-history", title: "History of a row of \(table.id)", project: project, branch: branch, section: .tables, cli: model.cli, body: model)
    }
}
