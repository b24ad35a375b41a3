import BranchAPI
import BranchCatalog
import BranchCore
import BranchDiff
import BranchEngine
import Foundation
import OpenAPIRuntime

// Admin SQL and migrations: the operations an agent uses to build a database. They take the
// admin key or the project's service_role key (see `APICaller`).
extension APIHandlers {
    func runSQL(_ input: Operations.RunSQL.Input) async throws -> Operations.RunSQL.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        try APICaller.current.require(.developer, in: input.path.project)
        let output = try await engine.adminSQL.run(
            project: input.path.project, branch: input.path.branch,
            SQLInput(query: body.query, parameters: body.params?.map(JSONValue.init), readOnly: body.readOnly ?? false, timeoutMs: body.timeoutMs))
        return .ok(.init(body: .json(.init(output))))
    }

    /// Read-only SQL for viewers: the same body and answer as runSQL, in a read-only transaction
    /// that is rolled back (see `AdminSQL.query`).
    func querySQL(_ input: Operations.QuerySQL.Input) async throws -> Operations.QuerySQL.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        try APICaller.current.require(.viewer, in: input.path.project)
        let output = try await engine.adminSQL.query(
            project: input.path.project, branch: input.path.branch,
            SQLInput(query: body.query, parameters: body.params?.map(JSONValue.init), readOnly: true, timeoutMs: body.timeoutMs))
        return .ok(.init(body: .json(.init(output))))
    }

    func adminQuery(_ input: Operations.AdminQuery.Input) async throws -> Operations.AdminQuery.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        try APICaller.current.require(.developer, in: body.project)
        // The project is named in the body, which the permissions middleware does not read.
        try await AllowlistGuard.require(body.project, address: RequestOrigin.clientAddress, engine: engine)
        let output = try await engine.adminSQL.run(
            project: body.project, branch: body.branch,
            SQLInput(query: body.sql, parameters: body.params?.map(JSONValue.init), readOnly: body.readOnly ?? false, timeoutMs: body.timeoutMs))
        return .ok(.init(body: .json(.init(output))))
    }

    func listMigrations(_ input: Operations.ListMigrations.Input) async throws -> Operations.ListMigrations.Output {
        try APICaller.current.require(.viewer, in: input.path.project)
        let records = try await engine.migrations.list(project: input.path.project, branch: input.path.branch)
        return .ok(.init(body: .json(.init(migrations: records.map(Schemas.MigrationInfo.init)))))
    }

    func applyMigration(_ input: Operations.ApplyMigration.Input) async throws -> Operations.ApplyMigration.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let caller = APICaller.current
        try caller.require(.developer, in: input.path.project)
        let migration = MigrationInput(name: body.name, sql: body.sql, down: body.down, version: body.version)
        if input.query.check == true {
            let report = try await engine.migrations.check(project: input.path.project, branch: input.path.branch, migration)
            return .ok(.init(body: .json(.init(report))))
        }
        let applied = try await engine.migrations.apply(
            project: input.path.project, branch: input.path.branch, migration, appliedBy: caller.label)
        return .created(.init(body: .json(.init(
            durationMs: applied.durationMs, migration: .init(applied.migration), rowsAffected: applied.rowsAffected,
            statements: applied.statements))))
    }

    func rollbackMigration(_ input: Operations.RollbackMigration.Input) async throws -> Operations.RollbackMigration.Output {
        try APICaller.current.require(.developer, in: input.path.project)
        let report = try await engine.migrations.rollback(
            project: input.path.project, branch: input.path.branch, version: input.path.version, confirm: input.query.confirm ?? false)
        return .ok(.init(body: .json(.init(
            applied: report.applied,
            lostWrites: report.lostWrites.map { .init(deleted: $0.deleted, inserted: $0.inserted, table: $0.table, updated: $0.updated) },
            method: report.method == .down ? .down : .restore, snapshot: report.snapshot, version: report.version))))
    }
}

extension Schemas.SQLResponse {
    init(_ output: SQLOutput) {
        self.init(
            durationMs: output.durationMs,
            results: output.results.map { result in
                Schemas.SQLStatementResult(
                    columns: result.columns.map { Schemas.SQLColumn(name: $0.name, _type: $0.type) }, command: result.command,
                    durationMs: result.durationMs, notices: result.notices, rowCount: result.rowCount,
                    rows: result.rows.map { $0.map(OpenAPIValueContainer.init) }, truncated: result.truncated)
            },
            truncated: output.truncated)
    }
}

extension Schemas.MigrationInfo {
    init(_ record: MigrationRecord) {
        self.init(
            appliedAt: record.appliedAt, appliedBy: record.appliedBy, checksum: record.checksum, durationMs: record.durationMs,
            hasDown: record.hasDown, name: record.name, snapshot: record.snapshotBefore,
            source: record.source == "supabase" ? .supabase : .branch, version: record.version)
    }
}

extension Schemas.MigrationCheck {
    init(_ report: MigrationCheckReport) {
        self.init(
            classification: .init(rawValue: report.classification) ?? .none, durationMs: report.durationMs,
            endpoints: report.endpoints.map {
                .init(
                    change: .init(rawValue: $0.change.rawValue) ?? .changed, columnsAdded: $0.columnsAdded, columnsChanged: $0.columnsChanged,
                    columnsRemoved: $0.columnsRemoved, path: $0.path)
            },
            error: report.error.map { Schemas.ErrorDetail(statementError: $0) }, ok: report.ok, rowsAffected: report.rowsAffected,
            schemaChanges: report.schemaChanges.map {
                .init(
                    classification: $0.isBreaking ? .breaking : .additive,
                    description: "\($0.objectType) \($0.name) \($0.change.rawValue)" + ($0.reason.map { ": \($0)" } ?? ""),
                    kind: "\($0.objectType.replacingOccurrences(of: " ", with: "_"))_\($0.change.rawValue)", object: $0.name)
            },
            statements: report.statements)
    }
}

extension Schemas.ErrorDetail {
    /// A statement's error with where it failed and Postgres' own fields.
    init(statementError error: some StatementFailureError) {
        let failure = error.failure
        self.init(
            code: error.code.rawValue, detail: failure.detail, hint: error.hint, line: failure.line, message: error.message,
            position: failure.position, sqlstate: failure.sqlState, statement: failure.statement, statementIndex: failure.statementIndex)
    }
}

extension OpenAPIValueContainer {
    /// A JSON value as the generated types carry it (literal initializers: no validation pass).
    init(_ value: JSONValue) {
        switch value {
        case .null: self = nil
        case .bool(let flag): self.init(booleanLiteral: flag)
        case .integer(let number): self.init(integerLiteral: number)
        case .number(let number): self.init(floatLiteral: number)
        case .string(let text): self.init(stringLiteral: text)
        case .array, .object: self = (try? OpenAPIValueContainer(unvalidatedValue: value.anyValue)) ?? nil
        }
    }
}

extension JSONValue {
    /// A value the generated types decoded (a request's `params`) as a JSON value.
    init(_ container: OpenAPIValueContainer) {
        self.init(any: container.value)
    }

    private init(any value: (any Sendable)?) {
        switch value {
        case nil: self = .null
        case let flag as Bool: self = .bool(flag)
        case let number as Int: self = .integer(number)
        case let number as Double: self = .number(number)
        case let text as String: self = .string(text)
        case let array as [(any Sendable)?]: self = .array(array.map { JSONValue(any: $0) })
        case let object as [String: (any Sendable)?]: self = .object(object.mapValues { JSONValue(any: $0) })
        default: self = .string("\(value!)")
        }
    }

    /// As Foundation-free Swift values (`[Any?]`, `[String: Any?]`) for OpenAPIValueContainer.
    fileprivate var anyValue: (any Sendable)? {
        switch self {
        case .null: nil
        case .bool(let flag): flag
        case .integer(let number): number
        case .number(let number): number
        case .string(let text): text
        case .array(let values): values.map(\.anyValue) as [(any Sendable)?]
        case .object(let members): members.mapValues(\.anyValue) as [String: (any Sendable)?]
        }
    }
}
