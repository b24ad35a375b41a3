import BranchAPI
import BranchCore
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
        let preamble: String?
        switch await runAsPreamble(&model) {
        case .ready(let text): preamble = text
        case .failed(let status): return status
        }
        await recordHistory(model.sql)
        if let at = place.at {
            let point = try Formatting.requiredPoint(at)
            let base = place.branch
            do {
                let status = try await TemporaryBranch(environment: environment, project: project).at(point, of: base) { temporary in
                    await execute(&model, executed: executed, limited: limited, insertions: insertions, on: temporary, readOnly: true, preamble: preamble)
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
            let status = await execute(&model, executed: executed, limited: limited, insertions: insertions, on: place.branch, readOnly: readOnly, preamble: preamble)
            model.ranOn = readOnly ? "\(place.branch) (read-only: your role is viewer)" : place.branch
            return status
        }
        let name = "scratch-" + TemporaryBranch.shortID()
        let base = place.branch
        do {
            _ = try await environment.call("createBranch", project: project, changes: true, target: name) {
                try await $0.createBranch(.init(path: .init(project: project), body: .json(.init(from: base, name: name, protected: false)))).created.body.json
            }
        } catch let failure as ConsoleFailure where failure.status != 403 && failure.status != 404 {
            model.failure = .init(message: "Could not make a scratch branch from \(base): \(failure.message)", code: failure.code, hint: failure.hint)
            return .init(code: failure.status)
        }
        let status = await execute(&model, executed: executed, limited: limited, insertions: insertions, on: name, readOnly: false, preamble: preamble)
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

    /// The statement that runs the SQL as anon or a user: it sets the role and the claims, first
    /// in the same transaction (developers only; a viewer's SQL goes through the read-only
    /// querySQL as Branch's reader role). A user that cannot be found fails the page.
    private enum Preamble {
        case ready(String?)
        case failed(HTTPResponse.Status)
    }

    private func runAsPreamble(_ model: inout SQLEditorModel) async -> Preamble {
        do {
            let resolved = try await user(model.runAs)
            let preamble = model.mayWrite ? try model.runAs.preamble(resolved) : nil
            model.ranAs = preamble == nil ? nil : model.runAs.description(resolved)
            return .ready(preamble)
        } catch let failure as ConsoleFailure {
            model.failure = .init(message: failure.message, code: failure.code, hint: failure.hint)
            return .failed(.init(code: failure.status))
        } catch {
            model.failure = .init(message: "Something unexpected went wrong: \(error)", code: "internal_error")
            return .failed(.internalServerError)
        }
    }

    /// EXPLAIN of each statement that has a plan, shown as a tree. With ANALYZE the statements
    /// run: in a read-only transaction, or, when they write, on a temporary copy of the branch
    /// deleted right after, so the branch itself never changes.
    func explain(_ model: inout SQLEditorModel, analyze: Bool) async -> HTTPResponse.Status {
        let statements = StatementGuards.split(model.sql)
        let explained = statements.indices.filter { StatementGuards.explainable(statements[$0]) }
        // SET and PREPARE run as they are: later statements may depend on them.
        let sent = statements.indices.filter { explained.contains($0) || StatementGuards.keptWhenExplaining(statements[$0]) }
        model.skipped = statements.indices.filter { !explained.contains($0) }.map { index in
            "Statement \(index + 1) has no plan (\(statements[index].words.first ?? "empty")): "
                + (sent.contains(index) ? "run as it is, not explained." : "not explained, not run.")
        }
        guard !explained.isEmpty else {
            model.failure = .init(
                message: "Nothing to explain: EXPLAIN takes SELECT, INSERT, UPDATE, DELETE, MERGE, VALUES, TABLE, EXECUTE and CREATE TABLE … AS.",
                code: "invalid_request")
            return .badRequest
        }
        let options = analyze ? "ANALYZE, BUFFERS, VERBOSE, FORMAT JSON" : "VERBOSE, FORMAT JSON"
        // A statement may end in a `--` comment: the `;` goes on a line of its own.
        let script = sent.map { (explained.contains($0) ? "EXPLAIN (\(options)) " : "") + statements[$0].text }.joined(separator: "\n;\n")
        let preamble: String?
        switch await runAsPreamble(&model) {
        case .ready(let text): preamble = text
        case .failed(let status): return status
        }
        await recordHistory(model.sql)
        var status: HTTPResponse.Status
        if let at = place.at, let point = Formatting.point(at) {
            let (ran, made) = await onTemporaryBranch(
                point, prefix: "at", failing: "Could not open \(place.branch) as of \(at)", &model, script: script, readOnly: true, preamble: preamble)
            guard made else { return ran }
            status = ran
            model.ranOn = "\(place.branch) as of \(at) (read-only, on a temporary branch since deleted)"
        } else {
            status = await execute(&model, executed: script, limited: [], insertions: [], on: place.branch, readOnly: true, preamble: preamble)
            model.ranOn = place.branch + (analyze ? " (ANALYZE in a read-only transaction)" : "")
            // ANALYZE of a statement that writes: on a copy, which a viewer may not make.
            if analyze, model.mayWrite, let failure = model.failure, failure.message.contains("read-only transaction") {
                model.failure = nil
                let (ran, made) = await onTemporaryBranch(
                    nil, prefix: "explain", failing: "Could not copy \(place.branch) to analyze there", &model, script: script, readOnly: false,
                    preamble: preamble)
                guard made else { return ran }
                status = ran
                model.ranOn = "a temporary copy of \(place.branch), deleted after: ANALYZE runs the statements, and these write"
            }
        }
        if var failure = model.failure {
            // Its place is in the EXPLAIN script, not in what the user wrote; its message says enough.
            failure.place = nil
            failure.excerpt = nil
            failure.statement = nil
            model.failure = failure
            return status
        }
        model.plans = zip(sent, model.results).compactMap { index, result in
            guard explained.contains(index), let json = result.rows.first?.first?.value else { return nil }
            return try? ExplainPlan.parse(json, title: "Statement \(index + 1)")
        }
        model.results = []
        model.hasResults = false
        model.hasPlans = !model.plans.isEmpty
        return status
    }

    /// Runs an explained `script` on a temporary branch of the page's branch at `point` (nil: a
    /// copy of it now), deleted after. `made` is false when the branch could not be made: the
    /// model then carries that failure, its message after `what`.
    private func onTemporaryBranch(
        _ point: PastPoint?, prefix: String, failing what: String, _ model: inout SQLEditorModel, script: String, readOnly: Bool, preamble: String?
    ) async -> (status: HTTPResponse.Status, made: Bool) {
        do {
            let status = try await TemporaryBranch(environment: environment, project: place.project).at(point, of: place.branch, prefix: prefix) { name in
                await execute(&model, executed: script, limited: [], insertions: [], on: name, readOnly: readOnly, preamble: preamble)
            }
            return (status, true)
        } catch let failure as ConsoleFailure {
            model.failure = .init(message: "\(what): \(failure.message)", code: failure.code, hint: failure.hint)
            return (.init(code: failure.status), false)
        } catch {
            model.failure = .init(message: "Something unexpected went wrong: \(error)", code: "internal_error")
            return (.internalServerError, false)
        }
    }

    /// The auth user `runAs` names: an id as it is, an email looked up through the branch's auth
    /// admin API (as the Auth users page does, so it needs the owner role); nil when it names none.
    func user(_ runAs: RunAs) async throws -> RunAs.User? {
        guard runAs.role == .authenticated, !runAs.user.isEmpty else { return nil }
        if UUID(uuidString: runAs.user) != nil { return RunAs.User(id: runAs.user.lowercased(), email: nil) }
        let users: [AuthAdminClient.User]
        do {
            users = try await AuthAdminClient(environment: environment, project: place.project, branch: place.branch).users(filter: runAs.user, provider: "", page: 1)
        } catch let failure as ConsoleFailure where failure.status == 403 {
            throw ConsoleFailure(
                status: 403, code: "forbidden", message: "Finding an auth user by email needs the owner role in \(place.project).",
                hint: "Give the user's id (a UUID) instead.")
        }
        guard let found = users.first(where: { $0.email.lowercased() == runAs.user.lowercased() }) else {
            throw ConsoleFailure(
                status: 404, code: "auth_user_not_found", message: "Branch \(place.branch) has no auth user with the email '\(runAs.user)'.",
                hint: "Create one on the Auth users page, give a user's id, or leave the field empty to run as authenticated without a user.")
        }
        return RunAs.User(id: found.id, email: found.email)
    }

    /// Runs `executed` (after `preamble`, in the same transaction, when running as another role)
    /// on `branch` and fills in the results or the failure, as the user wrote the SQL.
    func execute(
        _ model: inout SQLEditorModel, executed: String, limited: [Int], insertions: [Int], on branch: String, readOnly: Bool,
        preamble: String? = nil
    ) async -> HTTPResponse.Status {
        let sql = EditorSQL(environment: environment, project: place.project, branch: branch)
        let script = preamble.map { $0 + ";\n" + executed } ?? executed
        let shift = preamble.map { $0.unicodeScalars.count + 2 } ?? 0
        do {
            let results = Array(try await sql.run(script, readOnly: readOnly, changes: !readOnly).dropFirst(preamble == nil ? 0 : 1))
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
            if preamble != nil {
                failure.position = failure.position.flatMap { $0 > shift ? $0 - shift : nil }
                failure.statementIndex = failure.statementIndex.flatMap { $0 > 0 ? $0 - 1 : nil }
            }
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
