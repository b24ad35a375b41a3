import ArgumentParser
import BranchCore
import Foundation

/// `--json`, on every command.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false
}

/// `--project`, defaulting to the folder's `.branch` link.
struct ProjectOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "The project (default: the one `branch link` recorded for this folder).")
    var project: String?

    func resolve() throws -> String { try resolveProject(project) }
}

/// The project named on the command line, else the one linked to this folder.
func resolveProject(_ explicit: String?) throws -> String {
    if let explicit { return explicit }
    if let found = ProjectLink.find() { return found.link.project }
    throw CLIError.noProject()
}

/// Runs a command body; prints errors as `error: …` / `hint: …` on stderr and exits non-zero (3 when
/// the admin key was refused). With `json` (a command's `--json`), the error also goes to stdout as
/// `{"error": {"code": …, "message": …, "hint": …}}`, so scripts and agents can act on its stable code.
func reportingErrors(json: Bool = false, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        let reported = ReportedError(APIClient.unwrapped(error))
        printError(reported.message, hint: reported.hint, statement: reported.statement)
        if json { try? Format.printJSON(["error": reported]) }
        throw ExitCode(reported.code == ErrorCode.unauthorized.rawValue ? 3 : 1)
    }
}

/// A failed command's error as `--json` prints it.
struct ReportedError: Encodable {
    let code: String
    let message: String
    let hint: String?
    /// A failed SQL statement's fields (`sqlstate`, `position`, `statement`, …), flattened into the error.
    var statement: CLIError.StatementDetail?

    init(_ error: any Error) {
        switch error {
        case let error as CLIError:
            (code, message, hint) = (error.code, error.message, error.hint)
            statement = error.statement
        case let error as any ReportableError: (code, message, hint) = (error.code.rawValue, error.message, error.hint)
        case let error: (code, message, hint) = (ErrorCode.internalError.rawValue, "\(error)", nil)
        }
    }
}

extension ReportedError {
    func encode(to encoder: any Encoder) throws {
        enum Keys: String, CodingKey { case code, message, hint }
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(code, forKey: .code)
        try container.encode(message, forKey: .message)
        try container.encodeIfPresent(hint, forKey: .hint)
        try statement?.encode(to: encoder)
    }
}

func printError(_ message: String, hint: String?, statement: CLIError.StatementDetail? = nil) {
    let label = Style.errorsEnabled ? "\u{1B}[31merror:\u{1B}[0m" : "error:"
    var text = "\(label) \(message)\n"
    if let statement {
        if let detail = statement.detail { text += "detail: \(detail)\n" }
        if let sql = statement.statement {
            text += "statement\(statement.line.map { " (line \($0))" } ?? ""): \(sql.split(separator: "\n").prefix(5).joined(separator: "\n  "))\n"
        }
        if let state = statement.sqlstate { text += "sqlstate: \(state)\n" }
    }
    if let hint { text += (Style.errorsEnabled ? "\u{1B}[2mhint:\u{1B}[0m " : "hint: ") + hint + "\n" }
    FileHandle.standardError.write(Data(text.utf8))
}

extension OutputOptions {
    /// A command's one call and its answer: printed as JSON with `--json`, else by `human`; errors
    /// reported as `reportingErrors` does.
    func report<Result: Encodable>(_ call: @autoclosure () async throws -> Result, human: (Result) throws -> Void) async throws {
        try await reportingErrors(json: json) {
            let result = try await call()
            if json { return try Format.printJSON(result) }
            try human(result)
        }
    }
}
