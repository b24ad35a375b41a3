import BranchAPI
import Foundation
import Hummingbird

/// "Apply to target" from a diff: makes the first side (a branch) take the second side's version
/// of the chosen rows, or of a whole table. Either way the branch is snapshotted first, so the
/// page offers "Undo" (an in-place restore of that snapshot).
///
/// The engine has no row-level apply: chosen rows become the SQL of `DiffSQL` run through the SQL
/// API (one transaction) after `createSnapshot`; a whole table is the engine's one-table restore
/// (`restoreSnapshot` with `table`, which snapshots the branch itself), from the second side when
/// it is a snapshot, or from a snapshot of it taken now when it is a branch.
struct DiffApply: Sendable {
    let environment: ConsoleEnvironment

    func apply(project: String, form: FormFields) async throws -> Response {
        let session = try ConsoleSession.required()
        let branches = try await environment.call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches.map(\.name)
        }
        guard session.viewer.may(.developer, in: project) else {
            throw ConsoleFailure(status: 403, code: "forbidden", message: "Applying changes needs the developer role in \(project).")
        }
        guard let from = form.text("from"), let to = form.text("to"), let table = form.text("table") else {
            throw ConsoleFailure(status: 400, code: "invalid_request", message: "Apply needs from, to and table.")
        }
        let back = DiffQuery(form, defaultFrom: from, defaultTo: to).href(project: project)
        guard branches.contains(from) else {
            return environment.redirect(back, flash: "Changes are applied to the first side, and \(from) is not a branch: swap the sides or pick a branch.", error: true)
        }
        do {
            let undo: String
            let flash: String
            if form["scope"] == "table" {
                undo = try await applyTable(project: project, from: from, to: to, table: table, branches: branches)
                flash = "Table \(table) on \(from) now has its rows from \(to). Its previous state is snapshot \(undo)."
            } else {
                let count: Int
                (undo, count) = try await applyRows(project: project, from: from, to: to, table: table, keys: Set(form.all("row")))
                flash = "Applied \(count) row change\(count == 1 ? "" : "s") of \(table) to \(from). Its previous state is snapshot \(undo)."
            }
            return environment.redirect(back + "&applied=\(FormFields.encode(undo))&into=\(FormFields.encode(from))", flash: flash)
        } catch let failure as ConsoleFailure where failure.status != 403 && failure.status != 404 {
            return environment.redirect(back, flash: "\(failure.message) (\(failure.code))" + (failure.hint.map { " " + $0 } ?? ""), error: true)
        }
    }

    /// The chosen rows' SQL on `from` after a snapshot of it; answers the snapshot and how many rows were written.
    func applyRows(project: String, from: String, to: String, table: String, keys: Set<String>) async throws -> (String, Int) {
        guard !keys.isEmpty else { throw ConsoleFailure(status: 400, code: "invalid_request", message: "Choose the rows to apply first.") }
        let rows = try await DiffReader(environment: environment, project: project).rows(from: from, to: to, table: table) { row in
            !row.key.additionalProperties.isEmpty && keys.contains(DiffRowTable.keyJSON(row.key.additionalProperties))
        }
        guard !rows.isEmpty else {
            throw ConsoleFailure(status: 409, code: "conflict", message: "None of the chosen rows differ any more: the diff changed since the page was shown.")
        }
        let snapshot = try await environment.call("createSnapshot", project: project, changes: true, target: "\(from) before applying rows of \(table)") {
            try await $0.createSnapshot(.init(path: .init(project: project), body: .json(.init(branch: from)))).created.body.json.snapshot.id
        }
        let sql = DiffSQL.patch(rows, transaction: false)
        _ = try await environment.call("runSQL", project: project, changes: true, target: "\(from): \(rows.count) rows of \(table) from \(to)") {
            try await $0.runSQL(.init(path: .init(project: project, branch: from), body: .json(.init(query: sql)))).ok.body.json
        }
        return (snapshot, rows.count)
    }

    /// The engine's one-table restore of `table` from `to` into `from`; answers the snapshot it took of `from` first.
    func applyTable(project: String, from: String, to: String, table: String, branches: [String]) async throws -> String {
        guard DiffPage.isSnapshotOrBranch(to) else {
            throw ConsoleFailure(
                status: 400, code: "invalid_request", message: "A whole table can be applied from a branch or a snapshot, not from \(to).",
                hint: "Create a branch at that point first, then diff against it.")
        }
        var source = to
        if branches.contains(to) {
            source = try await environment.call("createSnapshot", project: project, changes: true, target: "\(to) to apply \(table) to \(from)") {
                try await $0.createSnapshot(.init(path: .init(project: project), body: .json(.init(branch: to)))).created.body.json.snapshot.id
            }
        }
        let snapshot = source
        let result = try await environment.call("restoreSnapshot", project: project, changes: true, target: "\(from):\(table) from \(to)") {
            try await $0.restoreSnapshot(.init(path: .init(project: project, snapshot: snapshot), body: .json(.init(branch: from, table: table)))).ok.body.json
        }
        return result.replacedStateSnapshot?.id ?? snapshot
    }
}
