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

/// Runs a command body; prints errors as `error: …` / `hint: …` on stderr and exits non-zero.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch {
        switch APIClient.unwrapped(error) {
        case let error as CLIError:
            printError(error.message, hint: error.hint)
            throw ExitCode(error.code == ErrorCode.unauthorized.rawValue ? 3 : 1)
        case let error as any ReportableError:
            printError(error.message, hint: error.hint)
            throw ExitCode.failure
        case let error as ExitCode:
            throw error
        case let error:
            printError("\(error)", hint: nil)
            throw ExitCode.failure
        }
    }
}

func printError(_ message: String, hint: String?) {
    let label = Style.errorsEnabled ? "\u{1B}[31merror:\u{1B}[0m" : "error:"
    var text = "\(label) \(message)\n"
    if let hint { text += (Style.errorsEnabled ? "\u{1B}[2mhint:\u{1B}[0m " : "hint: ") + hint + "\n" }
    FileHandle.standardError.write(Data(text.utf8))
}

extension OutputOptions {
    /// A command's one call and its answer: printed as JSON with `--json`, else by `human`; errors
    /// reported as `reportingErrors` does.
    func report<Result: Encodable>(_ call: @autoclosure () async throws -> Result, human: (Result) throws -> Void) async throws {
        try await reportingErrors {
            let result = try await call()
            if json { return try Format.printJSON(result) }
            try human(result)
        }
    }
}
