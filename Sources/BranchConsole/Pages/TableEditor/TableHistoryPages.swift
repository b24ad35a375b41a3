import BranchAPI
import Foundation
import Hummingbird

/// `/projects/{p}/tables/history?branch=B&table=T&key=K[&column=C][&limit=N]`: one row's history
/// (or one cell's, with `column`) across the branch's snapshots and now. Each snapshot is read
/// through a temporary branch made from it and deleted after (two at a time), so the page needs
/// the developer role; the newest `limit` snapshots (8, at most 24) are read.
struct TableHistoryPages: Sendable {
    let environment: ConsoleEnvironment

    static let defaultLimit = 8
    static let maximumLimit = 24

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
            return try await page(location, table: table, key: key, column: column, limit: limit, keyToken: query.text("key") ?? "")
        }
    }

    /// The row as column → text, whatever columns the table had at that point (a snapshot may
    /// predate a column): every point is read the same way, so their values compare.
    static func rowQuery(_ table: TableCatalog.Table, key: [String: String?]) throws -> String {
        let condition = try EditBatch.keyCondition(key, table: table)
        return "SELECT (SELECT json_object_agg(e.key, e.value) FROM json_each_text(row_to_json(r)) e)::text "
            + "FROM (SELECT * FROM \(table.sql) WHERE \(condition)) r"
    }

    /// `{"column": "text" or null}` as the history compares it.
    static func values(_ json: String) throws -> [String: String?] {
        guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return [:] }
        return object.mapValues { $0 as? String }
    }

    func page(
        _ location: TableLocation, table: TableCatalog.Table, key: [String: String?], column: String?, limit: Int, keyToken: String
    ) async throws -> Response {
        let project = location.project, branch = location.branch
        let snapshots = try await environment.call("listSnapshots", project: project) {
            try await $0.listSnapshots(.init(path: .init(project: project))).ok.body.json.snapshots
        }.filter { $0.sourceBranch == branch }.sorted { $0.createdAt > $1.createdAt }
        let chosen = Array(snapshots.prefix(limit))
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
        var readings = [RowHistory.Reading?](repeating: nil, count: chosen.count)
        // Two snapshots at a time: each is a branch to start, read and delete.
        try await withThrowingTaskGroup(of: (Int, RowHistory.Reading).self) { group in
            var next = 0
            func start() {
                guard next < chosen.count else { return }
                let index = next, snapshot = chosen[index]
                next += 1
                group.addTask {
                    let label = "snapshot " + (snapshot.name ?? snapshot.id) + " (\(snapshot.kind))"
                    do {
                        let found = try await temporary.from(snapshot: snapshot.id, prefix: "history") { await read(on: $0) }
                        return (index, .init(label: label, when: Formatting.utc(snapshot.createdAt), diffHref: diffHref(snapshot.id), values: found.values, note: found.note))
                    } catch let failure as ConsoleFailure where failure.status != 403 {
                        return (index, .init(label: label, when: Formatting.utc(snapshot.createdAt), diffHref: nil, values: nil, note: "not readable: \(failure.message)"))
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
        let all = readings.compactMap { $0 }.reversed() + [RowHistory.Reading(label: "\(branch) now", when: "now", diffHref: nil, values: now.values, note: now.note)]
        let shown = column.map { chosenColumn in table.key.map(\.name).filter { $0 != chosenColumn } + [chosenColumn] } ?? table.columns.map(\.name)
        let here = location.href("/history", extra: [("key", keyToken)])
        let model = Model(
            table: table.id, key: table.key.map { "\($0.name) = \((key[$0.name] ?? nil) ?? "NULL")" }.joined(separator: ", "), column: column,
            heads: shown.map { name in
                Head(name: name, href: location.href("/history", extra: [("key", keyToken), ("column", name)]), key: table.column(name)?.keyPosition != nil)
            },
            history: RowHistory(readings: Array(all), columns: shown), snapshotsRead: chosen.count, snapshotsTotal: snapshots.count,
            moreHref: snapshots.count > chosen.count && limit < Self.maximumLimit
                ? here + (column.map { "&column=" + FormFields.encode($0) } ?? "") + "&limit=\(min(limit * 3, Self.maximumLimit))" : nil,
            rowHref: location.href("/row", extra: [("key", keyToken)]), wholeRowHref: here, backHref: location.href(),
            cli: "branch diff SNAPSHOT \(branch) --table \(table.id) --project \(project)")
        return try await environment.page(
            "tables-history", title: "History of a row of \(table.id)", project: project, branch: branch, section: .tables, cli: model.cli, body: model)
    }
}
