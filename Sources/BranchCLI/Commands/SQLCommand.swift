import ArgumentParser
import BranchAPI
import Foundation
import OpenAPIRuntime

/// `branch sql`: run SQL on a branch as the project's owner, all statements in one transaction,
/// and print each statement's result as a table (`--json`: the API's answer).
struct SQLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql", abstract: "Run SQL on a branch (default: the checked-out one) and print each statement's result.",
        discussion: """
            All statements run in one transaction: if one fails, none of them changed anything, and the \
            error names the statement, its line and Postgres' SQLSTATE. `$1`, `$2`… take --param values \
            (then the SQL is one statement).
            """)

    @Argument(help: "The SQL (or use --file).")
    var query: String?
    @Option(name: [.short, .long], help: "Read the SQL from this file ('-': standard input).")
    var file: String?
    @Option(name: [.short, .long], help: "The branch (default: the checked-out one).")
    var branch: String?
    @Option(name: .customLong("param"), help: "A value for $1, $2… (repeat it; 'null' for NULL).")
    var parameters: [String] = []
    @Flag(name: .customLong("read-only"), help: "Run in a read-only transaction that is rolled back (a viewer may).")
    var readOnly = false
    @Option(name: .customLong("timeout"), help: "Statement timeout in milliseconds (default 30000).")
    var timeoutMs: Int?
    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let sql = try SQLText.read(query: query, file: file)
            let name = try project.resolve()
            let client = try APIClient.make()
            let branchName = try await BranchResolution.branch(branch, project: name, client: client)
            let parameters: [OpenAPIValueContainer]? = parameters.isEmpty ? nil : parameters.map { $0 == "null" ? nil : .init(stringLiteral: $0) }
            let body = Components.Schemas.SQLRequest(params: parameters, query: sql, timeoutMs: timeoutMs)
            try await Self.runAndPrint(body, project: name, branch: branchName, readOnly: readOnly, json: output.json, client: client)
        }
    }

    /// Sends `body` to the branch and prints the answer (as a table, or the API's JSON). Read-only
    /// SQL goes through querySQL, which a project viewer may call. `branch snippet run` shares it.
    static func runAndPrint(
        _ body: Components.Schemas.SQLRequest, project: String, branch: String, readOnly: Bool, json: Bool, client: Client
    ) async throws {
        let answer = readOnly
            ? try await client.querySQL(path: .init(project: project, branch: branch), body: .json(body)).ok.body.json
            : try await client.runSQL(path: .init(project: project, branch: branch), body: .json(body)).ok.body.json
        if json { return try Format.printJSON(answer) }
        SQLResultPrinter.print(answer)
    }
}

/// SQL from the command line, a file or standard input.
enum SQLText {
    static func read(query: String?, file: String?) throws -> String {
        switch (query, file) {
        case (let query?, nil): return query
        case (nil, "-"?): return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        case (nil, let path?):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIError(code: "file_not_found", message: "Cannot read \(path).")
            }
            return String(decoding: data, as: UTF8.self)
        case (.some, .some): throw CLIError(code: "invalid_request", message: "Give the SQL as an argument or with --file, not both.")
        case (nil, nil): throw CLIError(code: "invalid_request", message: "No SQL given.", hint: "`branch sql \"select 1\"` or `branch sql -f FILE`.")
        }
    }
}

/// The branch a command names, else the project's checked-out one.
enum BranchResolution {
    static func branch(_ explicit: String?, project: String, client: Client) async throws -> String {
        if let explicit { return explicit }
        return try await client.getProject(path: .init(project: project)).ok.body.json.checkedOut
    }
}

/// Admin SQL's answer as psql would show it: a table per statement that returns rows, the
/// command tag otherwise; notices and cut-off results on standard error.
enum SQLResultPrinter {
    static func print(_ answer: Components.Schemas.SQLResponse) {
        for (index, result) in answer.results.enumerated() {
            for notice in result.notices { FileHandle.standardError.write(Data("\(notice)\n".utf8)) }
            if !result.columns.isEmpty {
                var table = Table()
                table.headers = result.columns.map(\.name)
                for row in result.rows { table.rows.append(row.map(cell)) }
                if index > 0 { Swift.print() }
                Swift.print(table.rendered)
                Swift.print(Style.dim("(\(result.rowCount) row\(result.rowCount == 1 ? "" : "s"))"))
            } else {
                Swift.print(result.command + (["INSERT", "UPDATE", "DELETE", "MERGE", "COPY"].contains(result.command) ? " \(result.rowCount)" : ""))
            }
            if result.truncated {
                FileHandle.standardError.write(Data("warning: the answer reached its 10 MB limit; later rows were left out (add LIMIT, or COPY over the branch's URL)\n".utf8))
            }
        }
    }

    /// A value as psql prints it: NULL empty, strings bare, JSON compact.
    static func cell(_ value: OpenAPIValueContainer) -> String {
        switch value.value {
        case nil: return ""
        case let text as String: return text
        case let flag as Bool: return flag ? "t" : "f"
        case let number as Int: return String(number)
        case let number as Double: return String(number)
        default:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? ""
        }
    }
}
