import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

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
                let info: ProjectInfo = try await APIClient().get(APIPath.projects(project))
                name = info.checkedOut
            }
            var path = APIPath.branches(project, name) + "/export?format=\(APIPath.encode(format))"
            if let table { path += "&table=\(table.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? table)" }
            try await APIClient().stream(path) { Stdout.write($0) }
        }
    }
}
