/// An error the CLI reports: from the API (its code, message and hint; the code is a string, as a
/// newer service may send codes this CLI does not know) or from the CLI itself.
package struct CLIError: Error, CustomStringConvertible {
    package let code: String
    package let httpStatus: Int
    package let message: String
    package let hint: String?
    /// For a failed SQL statement: where it failed and Postgres' own fields.
    package var statement: StatementDetail?

    /// Where a statement of submitted SQL failed (the error body's SQL fields).
    package struct StatementDetail: Encodable, Sendable {
        var sqlstate: String?
        var detail: String?
        var position: Int?
        var line: Int?
        var statementIndex: Int?
        var statement: String?
    }

    package init(code: String, message: String, hint: String? = nil, httpStatus: Int = 0, statement: StatementDetail? = nil) {
        self.code = code
        self.httpStatus = httpStatus
        self.message = message
        self.hint = hint
        self.statement = statement
    }

    package var description: String { hint.map { "\(message) (\($0))" } ?? message }

    static func noProject() -> CLIError {
        CLIError(
            code: "project_required", message: "No project given.",
            hint: "Pass --project NAME, or run `branch link NAME` in this folder.")
    }
}
