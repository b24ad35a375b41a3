/// An error the CLI reports: from the API (its code, message and hint; the code is a string, as a
/// newer service may send codes this CLI does not know) or from the CLI itself.
public struct CLIError: Error, CustomStringConvertible {
    public let code: String
    public let httpStatus: Int
    public let message: String
    public let hint: String?

    public init(code: String, message: String, hint: String? = nil, httpStatus: Int = 0) {
        self.code = code
        self.httpStatus = httpStatus
        self.message = message
        self.hint = hint
    }

    public var description: String { hint.map { "\(message) (\($0))" } ?? message }

    static func noProject() -> CLIError {
        CLIError(
            code: "project_required", message: "No project given.",
            hint: "Pass --project NAME, or run `branch link NAME` in this folder.")
    }
}
