import Foundation
import Logging
package import MCP

/// Branch's MCP server: the tools of `tools`, each a call to the management API with the
/// caller's key, on any MCP transport. `branch mcp` runs it over stdio (`runOverStdio`); the
/// service's `/mcp` answers each HTTP request with a fresh one (`MCPHTTPExchange`).
package struct BranchMCPServer: Sendable {
    /// Every tool, in the order `tools/list` shows them.
    package static let tools: [ToolSpec] =
        ProjectTools.all + BranchTools.all + SQLTools.all + MigrationTools.all + DiffTool.all + SnapshotTools.all + DocumentTools.all + AuthTools.all

    /// What the server tells the client about itself, for the model's context.
    static let instructions = """
        Branch runs Postgres projects whose branches are instant copy-on-write copies, each with its own \
        server. Work safely: create_branch from main, try a schema change there with check_migration and \
        apply_migration, verify it with run_sql and diff (main against the branch), then apply the same \
        migration to main. Read get_schema or get_agent_brief before writing SQL against tables you have \
        not seen. Errors carry a stable code (project_not_found, migration_failed…) and a hint.
        """

    package let connection: APIConnection
    /// The project used when a call names none.
    package let defaultProject: String?
    package let version: String

    package init(connection: APIConnection, defaultProject: String? = nil, version: String) {
        self.connection = connection
        self.defaultProject = defaultProject
        self.version = version
    }

    /// An MCP server with the tools registered, not yet started.
    package func makeServer() async -> Server {
        let server = Server(
            name: "branch", version: version, title: "Branch", instructions: Self.instructions,
            capabilities: .init(tools: .init(listChanged: false)))
        let context = ToolContext(connection: connection)
        let tools = Self.tools.map { $0.tool(defaultProject: defaultProject) }
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: tools) }
        await server.withMethodHandler(CallTool.self) { parameters in try await call(parameters, context: context) }
        return server
    }

    /// Runs one tool call. A tool's failure is its result (`isError: true`); only an unknown tool
    /// is a protocol error, as the MCP specification says.
    package func call(_ parameters: CallTool.Parameters, context: ToolContext) async throws -> CallTool.Result {
        guard let tool = Self.tools.first(where: { $0.name == parameters.name }) else {
            throw MCPError.invalidParams("Unknown tool: \(parameters.name). tools/list shows the tools.")
        }
        let arguments = ToolArguments(parameters.arguments, defaultProject: defaultProject)
        do {
            try arguments.check(against: tool)
            return try await tool.run(arguments, context)
        } catch {
            switch APIConnection.unwrapped(error) {
            case let failure as ToolFailure: return failure.result
            case let cancelled as CancellationError: throw cancelled
            case let other: return ToolFailure(code: "internal_error", message: "The tool failed: \(other).").result
            }
        }
    }

    /// Serves MCP on stdin and stdout until stdin ends (and the requests read by then are
    /// answered). Only MCP messages go to stdout; the transport's warnings go to stderr.
    package func runOverStdio() async throws {
        let server = await makeServer()
        let logger = Logger(label: "branch.mcp") { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        try await server.start(transport: await DrainingTransport(base: StdioTransport(logger: logger), logger: logger))
        await server.waitUntilCompleted()
        await server.stop()
    }
}
