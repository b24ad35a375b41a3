import BranchCatalog
package import BranchCore
import BranchPostgres
import Foundation

/// SQL submitted to a branch, as its admin would type it into psql.
package struct SQLInput: Sendable {
    package var query: String
    /// Values for `$1`, `$2`… (then the query is one statement).
    package var parameters: [JSONValue]?
    package var readOnly: Bool
    package var timeoutMs: Int?

    package init(query: String, parameters: [JSONValue]? = nil, readOnly: Bool = false, timeoutMs: Int? = nil) {
        self.query = query
        self.parameters = parameters
        self.readOnly = readOnly
        self.timeoutMs = timeoutMs
    }
}

/// One statement's answer: its command, columns (name and type), rows as JSON values.
package struct SQLStatementOutput: Sendable {
    package var command: String
    package var columns: [(name: String, type: String)]
    package var rows: [[JSONValue]]
    package var rowCount: Int
    package var durationMs: Double
    package var notices: [String]
    package var truncated: Bool
}

/// Every statement's answer, in order.
package struct SQLOutput: Sendable {
    package var results: [SQLStatementOutput]
    package var durationMs: Double
    package var truncated: Bool { results.contains(where: \.truncated) }
}

/// A statement of submitted SQL failed: Postgres' message, SQLSTATE, detail, hint and where.
package struct SQLFailure: StatementFailureError {
    package var code: ErrorCode
    package var message: String
    package var hint: String?
    package var failure: StatementFailure
}

/// Admin SQL: statements run on a branch as the project's owner, one result per statement, all
/// in one transaction (Postgres runs a multi-statement message as one), with a statement timeout
/// and a cap on the answer's size. A failing statement rolls the whole script back and is
/// reported with its index, position and Postgres' own fields.
package struct AdminSQL: EnginePart {
    let context: EngineContext

    /// The default statement timeout, and the largest one a request may ask for.
    static let defaultTimeoutMs = 30_000
    static let maximumTimeoutMs = 3_600_000
    /// Rows past this many bytes of values are counted, not returned (`truncated`).
    static let answerByteLimit = 10 << 20
    /// The largest SQL text accepted.
    package static let textLimit = 16 << 20

    package func run(project projectName: String, branch branchName: String?, _ input: SQLInput) async throws -> SQLOutput {
        let statements = try Self.check(input)
        let sessions = OwnerSessions(context: context)
        let (project, branch) = try await sessions.target(project: projectName, branch: branchName)
        let timeout = input.timeoutMs ?? Self.defaultTimeoutMs
        let stopwatch = Stopwatch()
        return try await sessions.withOwnerConnection(project, branch, purpose: "sql") { connection in
            _ = try await connection.execute(
                "SET statement_timeout = \(timeout); SET default_transaction_read_only = \(input.readOnly ? "on" : "off")")
            var output = try await Self.execute(input, statements, timeout: timeout, on: connection)
            output.durationMs = stopwatch.milliseconds
            return output
        }
    }

    /// Runs checked `statements` of `input` on `connection` and types their answers; a failing
    /// statement throws `sql_failed` with where it failed.
    static func execute(_ input: SQLInput, _ statements: SQLStatements, timeout: Int, on connection: PGConnection) async throws -> SQLOutput {
        let outcome = try await connection.script(
            input.query, parameters: input.parameters.map { $0.map(Self.parameterText) }, byteLimit: Self.answerByteLimit,
            timeout: .milliseconds(timeout * max(statements.statements.count, 1) + 10_000))
        if let failure = outcome.failure {
            throw Self.failure(failure, in: input.query, statements: statements, code: .sqlFailed)
        }
        let names = try await Self.typeNames(of: outcome.results, on: connection)
        return SQLOutput(results: outcome.results.map { result in
            let types = result.columns.map { names[$0.typeOID] ?? "oid:\($0.typeOID)" }
            return SQLStatementOutput(
                command: SQLValues.command(result.tag), columns: zip(result.columns, types).map { ($0.name, $1) },
                rows: result.rows.map { row in zip(row, types).map { SQLValues.json($0, type: $1) } },
                rowCount: result.rowCount, durationMs: result.durationMs, notices: result.notices, truncated: result.truncated)
        }, durationMs: 0)
    }

    /// Refuses what cannot run: no SQL, SQL too large, parameters with several statements, a
    /// timeout out of range, transaction control in a read-only run.
    static func check(_ input: SQLInput) throws -> SQLStatements {
        guard input.query.utf8.count <= textLimit else {
            throw EngineError(.payloadTooLarge, "The SQL is larger than \(textLimit >> 20) MiB.", hint: "Split it into several requests.")
        }
        let statements = SQLStatements(input.query)
        guard !statements.statements.isEmpty else {
            throw EngineError.invalidRequest("The query has no SQL statement.", hint: "Send `{\"query\": \"select 1\"}`.")
        }
        if let timeout = input.timeoutMs, !(1...maximumTimeoutMs).contains(timeout) {
            throw EngineError.invalidRequest("timeoutMs must be between 1 and \(maximumTimeoutMs).")
        }
        if input.parameters != nil, statements.statements.count > 1 {
            throw EngineError.invalidRequest(
                "Parameters go with exactly one statement; this query has \(statements.statements.count).",
                hint: "Send the statements one request at a time, or without params.")
        }
        if input.readOnly, let control = statements.statements.first(where: \.isTransactionControl) {
            throw EngineError.invalidRequest(
                "A read-only query cannot control transactions (\(control.leadingWords.first ?? "")).",
                hint: "Leave out BEGIN, COMMIT and ROLLBACK: the whole query runs in one read-only transaction.")
        }
        return statements
    }

    /// A JSON parameter as the text Postgres reads (`true`, `42`, a string as is, JSON as JSON).
    static func parameterText(_ value: JSONValue) -> String? {
        switch value {
        case .null: nil
        case .string(let text): text
        case .bool(let flag): flag ? "true" : "false"
        case .integer(let number): String(number)
        case .number(let number): String(number)
        case .array, .object: (try? String(decoding: JSONEncoder().encode(value), as: UTF8.self)) ?? nil
        }
    }

    /// The names of every column type in `results`: built-in ones from the table, others asked of
    /// the catalog in one query.
    static func typeNames(of results: [PGStatementResult], on connection: PGConnection) async throws -> [UInt32: String] {
        var names = SQLValues.builtinTypeNames
        let unknown = Set(results.flatMap(\.columns).map(\.typeOID)).filter { names[$0] == nil }
        guard !unknown.isEmpty else { return names }
        let rows = try await connection.query(
            "select oid::int8, typname from pg_type where oid = any($1::oid[])", ["{" + unknown.map(String.init).joined(separator: ",") + "}"])
        for row in rows.rows {
            if let oid = row[0].flatMap({ UInt32($0) }), let name = row[1] { names[oid] = name }
        }
        return names
    }

    /// The error for a failed statement of `text`: which one, where, and Postgres' fields.
    static func failure(_ failure: PGScriptOutcome.Failure, in text: String, statements: SQLStatements, code: ErrorCode) -> SQLFailure {
        let error = failure.error
        let index = failure.position.flatMap(statements.statementIndex(atPosition:)) ?? failure.completedStatements
        let statement = statements.statements.indices.contains(index) ? statements.statements[index] : nil
        let line = failure.position.map { position in
            1 + text.unicodeScalars.prefix(max(position - 1, 0)).count(where: { $0 == "\n" })
        } ?? statement?.line
        let message = error.server?.message ?? error.message
        let described = statement.map { _ in " (statement \(index + 1)\(line.map { ", line \($0)" } ?? ""))" } ?? ""
        // Postgres places parse and name errors; for others, the failing statement's first character.
        let position = failure.position ?? statement.map { $0.offset + 1 }
        return SQLFailure(
            code: code, message: message + described, hint: error.server?.hint,
            failure: StatementFailure(
                sqlState: error.sqlState, detail: error.server?.detail, position: position, line: line,
                statementIndex: statement == nil ? nil : index, statement: statement?.text))
    }
}
