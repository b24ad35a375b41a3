import ArgumentParser
import AsyncHTTPClient
import BranchMCP
import Foundation

/// `branch mcp`: Branch's tools for an AI agent, as an MCP server on stdin/stdout.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp", abstract: "Serve Branch's tools to an AI agent: an MCP server on stdin and stdout.",
        discussion: """
            Start it from an MCP client (Claude Code, Cursor, …): it reads MCP messages on stdin and writes \
            only MCP messages on stdout. Every tool is a call to the service's API with the CLI's URL and \
            key (BRANCH_URL and BRANCH_TOKEN, or `branch login`), so the API's authorization applies.
            Example: claude mcp add branch -- branch mcp

            Without --project, the folder's `branch link` (if any) is the default project; tools then \
            need no project argument. The service also serves the same tools over HTTP at /mcp.
            """)

    @Option(name: [.short, .long], help: "The project tools use when a call names none (default: the folder's `branch link`).")
    var project: String?

    func run() async throws {
        let configuration = ClientConfiguration.load()
        guard let url = URL(string: configuration.url), url.scheme != nil else {
            printError("BRANCH_URL is not a URL: \(configuration.url).", hint: APIClient.unreachableHint)
            throw ExitCode.failure
        }
        let defaultProject = project ?? ProjectLink.find()?.link.project
        let http: HTTPClient
        do {
            // The certificate the CLI's configuration trusts (a pin, BRANCH_CA_FILE), as every command.
            http = try configuration.trust.httpClient()
        } catch let error as CLIError {
            printError(error.message, hint: error.hint)
            throw ExitCode.failure
        }
        let server = BranchMCPServer(
            connection: APIConnection(serviceURL: url, token: configuration.token, http: http), defaultProject: defaultProject, version: Self.version)
        try await server.runOverStdio()
    }

    /// The version the server reports to clients: the executable's.
    static let version = "0.1.0"
}
