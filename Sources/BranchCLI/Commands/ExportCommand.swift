import ArgumentParser
import BranchAPI
import BranchCore
import Foundation
import OpenAPIRuntime

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a branch logically to stdout: SQL (pg_dump) or JSON Lines ({\"table\", \"row\"} per row).")

    @Argument(help: "The branch (default: the checked-out one).")
    var branch: String?

    @Option(help: "sql or json.")
    var format = "sql"

    @Option(help: "Only this table (schema.table).")
    var table: String?

    @OptionGroup var project: ProjectOptions

    func run() async throws {
        try await reportingErrors {
            let project = try project.resolve()
            let name: String
            if let branch { name = branch } else {
                name = try await APIClient.make().getProject(path: .init(project: project)).ok.body.json.checkedOut
            }
            // Written to stdout piece by piece as it arrives: memory stays flat whatever the size.
            let body = try await APIClient.make(streaming: true).exportBranch(
                path: .init(project: project, branch: name), query: .init(format: format, table: table)
            ).ok.body
            let export: HTTPBody = switch body {
            case .applicationSql(let sql): sql
            case .applicationXNdjson(let lines): lines
            }
            for try await chunk in export { Stdout.write(chunk) }
        }
    }
}
