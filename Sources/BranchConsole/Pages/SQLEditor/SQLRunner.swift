import BranchAPI
import Foundation
import Hummingbird
import OpenAPIRuntime

/// Runs the editor's SQL: the guards first, then on the branch, on a past instant (a temporary
/// branch there, a read-only transaction, the branch deleted after), or on a scratch branch whose
/// row diff against the branch is shown before anything is applied.
struct SQLRunner: Sendable {
    let environment: ConsoleEnvironment
    let place: SQLEditorPages.Place

    /// Runs `model.sql` and fills the model in; answers the page's status.
    func run(_ model: inout SQLEditorModel, scratch: Bool) async throws -> HTTPResponse.Status {
        let project = place.project
        guard !model.sql.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            model.failure = .init(message: "There is no SQL to run.", code: "invalid_request")
            return .badRequest
        }
        let statements = StatementGuards.split(model.sql)
        let reasons = statements.enumerated().compactMap { index, statement in
            StatementGuards.destructive(statement).map { "Statement \(index + 1): \($0)." }
        }
        // A viewer's SQL cannot change anything (read-only transaction): no need to confirm.
        if !reasons.isEmpty && !model.confirm && place.at == nil && !scratch && !model.viewerReadOnly {
            model.refusal = reasons
            model.refused = true
            return .conflict
        }
        let (executed, limited, insertions) = StatementGuards.limited(model.sql)
        if !limited.isEmpty {
            model.limitNotice = "LIMIT \(StatementGuards.automaticLimit) was added to "
                + limited.map { "statement \($0 + 1)" }.joined(separator: ", ") + ". Write your own LIMIT to read more."
        }
        model.executed = executed
        await recordHistory(model.sql)
        if let at = place.at {
            guard let instant = Formatting.instant(at) else { throw ConsoleFailure(status: 400, code: "invalid_request", message: "Bad instant.") }
            let base = place.branch
            do {
                let status = try await TemporaryBranch(environment: environment, project: project).at(instant, of: base) { temporary in
                    await execute(&model, executed: executed, limited: limited, insertions: insertions, on: temporary, readOnly: true)
                }
                model.ranOn = "\(place.branch) as of \(at) (read-only, on a temporary branch since deleted)"
                return status
            } catch let failure as ConsoleFailure where failure.status != 403 && failure.status != 404 {
                model.failure = .init(message: "Could not open \(base) as of \(at): \(failure.message)", code: failure.code, hint: failure.hint)
                return .init(code: failure.status)
            }
        }
        guard scratch else {
            let readOnly = model.viewerReadOnly
            let status = await execute(&model, executed: executed, limited: limited, insertions: insertions, on: place.branch, readOnly: readOnly)
            model.ranOn = readOnly ? "\(place.branch) (read-only: your role is viewer)" : place.branch
            return status
        }
        let name = "scratch-" + TemporaryBranch.shortID()
        let base = place.branch
        do {
            _ = try await environment.call("createBranch", project: project, changes: true, target: name) {
                try await $0.createBranch(.init(path: .init(project: project), body: .json(.init(from: base, name: name)))).created.body.json
            }
        } catch let failure as ConsoleFailure where failure.status != 403 && failure.status != 404 {
            model.failure = .init(message: "Could not make a scratch branch from \(base): \(failure.message)", code: failure.code, hint: failure.hint)
            return .init(code: failure.status)
        }
        let status = await execute(&model, executed: executed, limited: limited, insertions: insertions, on: name, readOnly: false)
        model.ranOn = "scratch branch \(name) (a copy of \(base))"
        guard status == .ok else {
            try? await delete(name)
            model.ranOn = (model.ranOn ?? "") + ", deleted after the error"
            return status
        }
        do {
            model.scratch = try await ScratchDiff(environment: environment, project: project).compare(base: base, scratch: name, place: place, needsConfirm: !reasons.isEmpty)
        } catch {
            try? await delete(name)
            throw error
        }
        return .ok
    }

    /// Runs on `branch`, filling results or the failure.
    func execute(
        _ model: inout SQLEditorModel, executed: String, limited: [Int], insertions: [Int], on branch: String, readOnly: Bool
    ) async -> HTTPResponse.Status {
        let sql = EditorSQL(environment: environment, project: place.project, branch: branch)
        do {
            let results = try await sql.run(executed, readOnly: readOnly, changes: !readOnly)
            model.results = results.enumerated().map { index, result in
                .init(
                    title: "Statement \(index + 1)", command: result.command,
                    columns: result.columns.map { .init(name: $0.name, type: $0.type) },
                    rows: result.rows.map { row in
                        row.enumerated().map { column, value in
                            .init(column: column < result.columns.count ? result.columns[column].name : "", value: value ?? "NULL", isNull: value == nil)
                        }
                    },
                    hasColumns: !result.columns.isEmpty,
                    summary: "\(result.command) · \(result.rowCount) row\(result.rowCount == 1 ? "" : "s") · \(String(format: "%.1f", result.durationMs)) ms",
                    notices: result.notices, limited: limited.contains(index), truncated: result.truncated)
            }
            model.hasResults = !model.results.isEmpty
            return .ok
        } catch let failure as ConsoleFailure {
            var failure = failure
            failure.position = failure.position.map { StatementGuards.originalPosition($0, insertions: insertions) }
            model.failure = Self.failure(failure, sql: model.sql)
            return .init(code: failure.status)
        } catch {
            model.failure = .init(message: "Something unexpected went wrong: \(error)", code: "internal_error")
            return .internalServerError
        }
    }

    /// The SQL a form sent, with the browser's CRLF line breaks as LF (positions and lines then
    /// mean the same to Postgres and to the page).
    static func text(_ field: String?) -> String {
        (field ?? "").replacingOccurrences(of: "\r\n", with: "\n")
    }

    /// Where `failure` points in `sql`: its line and column, that line, and a caret under it.
    static func failure(_ failure: ConsoleFailure, sql: String) -> SQLEditorModel.Failure {
        var model = SQLEditorModel.Failure(
            message: Self.withoutPlace(failure.message), code: failure.code, hint: failure.hint,
            statement: failure.statementIndex.map { "Statement \($0 + 1)" + (failure.statement.map { ": \($0.prefix(200))" } ?? "") })
        guard let position = failure.position, position >= 1 else { return model }
        // Postgres counts code points, not Swift's grapheme clusters (where "\r\n" is one).
        let characters = Array(sql.unicodeScalars)
        let offset = min(position - 1, characters.count)
        let lineStart = characters[..<offset].lastIndex(of: "\n").map { $0 + 1 } ?? 0
        let lineEnd = characters[offset...].firstIndex(of: "\n") ?? characters.count
        let line = characters[..<offset].filter { $0 == "\n" }.count + 1
        let column = offset - lineStart + 1
        model.place = "line \(line), column \(column)"
        var text = String.UnicodeScalarView()
        text.append(contentsOf: characters[lineStart..<lineEnd])
        // One value: a template's own line breaks inside <pre> would get the layout's indentation.
        model.excerpt = String(text) + "\n" + String(characters[lineStart..<offset].map { $0 == "\t" ? "\t" : " " }) + "^"
        return model
    }

    /// The API's message less its "(statement N, line M)": the line counts the added LIMITs; the page shows its own place.
    static func withoutPlace(_ message: String) -> String {
        guard let range = message.range(of: #" \(statement \d+(, line \d+)?\)$"#, options: .regularExpression) else { return message }
        return String(message[..<range.lowerBound])
    }

    /// Deletes a scratch (or temporary) branch made by this page.
    func discard(_ name: String) async throws {
        guard name.hasPrefix("scratch-") else {
            throw ConsoleFailure(status: 400, code: "invalid_request", message: "Only a scratch branch made by the SQL editor is discarded here.")
        }
        try await delete(name)
    }

    func delete(_ name: String) async throws {
        try await TemporaryBranch(environment: environment, project: place.project).delete(name)
    }

    /// Keeps the run in the user's history (a failure to keep it does not stop the run).
    func recordHistory(_ sql: String) async {
        let project = place.project
        let name = String(sql.split(whereSeparator: \.isNewline).joined(separator: " ").prefix(80))
        _ = try? await environment.call("saveSnippet", project: project) {
            try await $0.saveSnippet(.init(path: .init(project: project), body: .json(.init(kind: "history", name: name, sql: sql)))).created.body.json
        }
    }
}
