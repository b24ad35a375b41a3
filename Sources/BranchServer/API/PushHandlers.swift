import BranchAPI
import BranchEngine
import Foundation

/// `POST /api/v1/projects/{project}/push` (`branch push`): a table's rows to a Postgres outside
/// Branch. Being a POST, every call (dry run or apply) is in the audit log.
extension APIHandlers {
    func pushTable(_ input: Operations.PushTable.Input) async throws -> Operations.PushTable.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let request = PushRequest(
            table: body.table, rows: body.rows, to: body.to, branch: body.branch, snapshot: body.snapshot, apply: body.apply ?? false)
        let report = try await engine.pushes.push(project: input.path.project, request)
        return .ok(.init(body: .json(.init(report))))
    }
}

extension Schemas.PushReport {
    init(_ report: BranchEngine.PushReport) {
        self.init(
            added: report.added, applied: report.applied, changed: report.changed, columnsOnlyInSource: report.columnsOnlyInSource,
            columnsOnlyInTarget: report.columnsOnlyInTarget, removed: report.removed, rows: report.rows.map(Schemas.PushRowChange.init),
            source: report.source, table: report.table, target: report.target, truncated: report.truncated)
    }
}

extension Schemas.PushRowChange {
    init(_ change: BranchEngine.PushRowChange) {
        self.init(
            changedColumns: change.changedColumns, key: Schemas.RowValues(change.key), kind: change.kind.rawValue,
            new: change.new.map { Schemas.RowValues($0) }, old: change.old.map { Schemas.RowValues($0) })
    }
}
