import Foundation
import Hummingbird
import NIOCore

/// `POST /projects/{p}/tables/save?branch=B`: the page's pending edits (JSON), written as one
/// transaction through `runSQL`. Answers JSON: the SQL, and on failure which edit failed and why
/// (nothing is kept then). With `preview`, only the SQL.
struct TableSave: Sendable {
    let environment: ConsoleEnvironment

    struct Answer: Encodable {
        struct Failure: Encodable {
            var message: String
            var code: String
            var hint: String?
            /// The failing edit's index in the posted list.
            var index: Int?
            var position: Int?
        }

        var ok: Bool
        var statements: [String]
        var rowsAffected: [Int]
        var error: Failure?
    }

    func save(_ request: Request, location: TableLocation) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 8 << 20)
        let batch: EditBatch
        do {
            batch = try JSONDecoder().decode(EditBatch.self, from: Data(String(buffer: body).utf8))
        } catch {
            return answer(.init(ok: false, statements: [], rowsAffected: [], error: .init(message: "The changes could not be read: \(error)", code: "invalid_request")), .badRequest)
        }
        let sql = EditorSQL(environment: environment, project: location.project, branch: location.branch)
        var statements: [String] = []
        do {
            guard let table = try await location.tables(sql).first(where: { $0.id == batch.table }) else {
                throw EditBatch.Invalid(message: "Branch \(location.branch) has no table \(batch.table).")
            }
            statements = try batch.statements(for: table)
            if batch.preview == true { return answer(.init(ok: true, statements: statements, rowsAffected: [], error: nil), .ok) }
            let results = try await sql.run(statements.map { $0 + ";" }.joined(separator: "\n"), readOnly: false, changes: true)
            return answer(.init(ok: true, statements: statements, rowsAffected: results.map(\.rowCount), error: nil), .ok)
        } catch let invalid as EditBatch.Invalid {
            return answer(.init(ok: false, statements: statements, rowsAffected: [], error: .init(message: invalid.message, code: "invalid_request", index: invalid.index)), .badRequest)
        } catch let failure as ConsoleFailure {
            let error = Answer.Failure(
                message: SQLRunner.withoutPlace(failure.message), code: failure.code, hint: failure.hint, index: failure.statementIndex,
                position: failure.position)
            return answer(.init(ok: false, statements: statements, rowsAffected: [], error: error), .init(code: failure.status))
        }
    }

    func answer(_ answer: Answer, _ status: HTTPResponse.Status) -> Response {
        HTMLResponses.json(answer, status: status)
    }
}
