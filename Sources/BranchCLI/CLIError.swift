/// An error the CLI reports: from the API (its code, message and hint; the code is a string, as a
/// newer service may send codes this CLI does not know) or from the CLI itself.
package struct CLIError: Error, CustomStringConvertible {
    package let code: String
    package let httpStatus: Int
    package let message: String
    package let hint: String?

    package init(code: String, message: String, hint: String? = nil, httpStatus: Int = 0) {
        self.code = code
        self.httpStatus = httpStatus
        self.message = message
        self.hint = hint
    }

    package var description: String { hint.map { "\(message) (\($0))" } ?? message }

    static func noProject() -> CLIError {
        CLIError(
            code: "project_required", message: "No project given.",
            hint: "Pass --project NAME, or run `branch link NAME` in this folder.")
    }
}
