import BranchAPI
import BranchCore
@testable import BranchMCP
@testable import BranchServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MCP
import NIOCore
import Testing

/// The MCP server's pure parts (tool schemas, argument decoding, error mapping, the diff stream
/// gathered into one answer) and its HTTP face in process: `/mcp` behind the bearer-key check,
/// with tools calling a stub API on the test server's own port.
@Suite("MCP tools")
struct MCPToolTests {
    static let expected: Set<String> = [
        "list_projects", "create_project", "list_branches", "create_branch", "delete_branch", "checkout_branch", "run_sql",
        "check_migration", "apply_migration", "list_migrations", "rollback_migration", "diff", "create_snapshot", "restore_snapshot",
        "get_schema", "get_agent_brief", "get_auth_settings", "set_auth_settings",
    ]

    // MARK: Tool definitions

    @Test("every tool: a unique snake_case name, a description, an object schema whose required fields it lists")
    func schemas() throws {
        let tools = BranchMCPServer.tools
        #expect(Set(tools.map(\.name)) == Self.expected)
        #expect(tools.count == Self.expected.count, "a tool name appears twice")
        for spec in tools {
            let tool = spec.tool()
            #expect(tool.name.allSatisfy { $0.isLowercase || $0 == "_" }, "\(tool.name)")
            #expect((tool.description ?? "").count >= 60, "\(tool.name) needs a description a model can act on")
            let schema = try #require(tool.inputSchema.objectValue)
            #expect(schema["type"] == "object")
            #expect(schema["additionalProperties"] == false)
            let properties = try #require(schema["properties"]?.objectValue, "\(tool.name)")
            let required = (schema["required"]?.arrayValue ?? []).compactMap(\.stringValue)
            #expect(Set(required).isSubset(of: properties.keys), "\(tool.name): required \(required) not all listed")
            for (name, property) in properties {
                let fields = try #require(property.objectValue, "\(tool.name).\(name)")
                #expect(fields["type"]?.stringValue != nil, "\(tool.name).\(name) has no type")
                #expect((fields["description"]?.stringValue ?? "").isEmpty == false, "\(tool.name).\(name) has no description")
            }
        }
    }

    @Test("reading tools are marked read-only; deleting and restoring ones destructive")
    func annotations() {
        let tools = Dictionary(uniqueKeysWithValues: BranchMCPServer.tools.map { ($0.name, $0.annotations) })
        for name in ["list_projects", "list_branches", "list_migrations", "diff", "check_migration", "get_schema", "get_agent_brief", "get_auth_settings"] {
            #expect(tools[name]?.readOnlyHint == true, "\(name)")
        }
        for name in ["delete_branch", "restore_snapshot", "rollback_migration"] {
            #expect(tools[name]?.readOnlyHint == false && tools[name]?.destructiveHint == true, "\(name)")
        }
    }

    @Test("with a default project, `project` may be left out and its description names the default")
    func defaultProject() throws {
        let spec = try #require(BranchMCPServer.tools.first { $0.name == "run_sql" })
        let required = { (schema: Value) in Set((schema.objectValue?["required"]?.arrayValue ?? []).compactMap(\.stringValue)) }
        #expect(required(spec.inputSchema()) == ["project", "branch", "query"])
        let withDefault = spec.inputSchema(defaultProject: "shop")
        #expect(required(withDefault) == ["branch", "query"])
        let project = withDefault.objectValue?["properties"]?.objectValue?["project"]?.objectValue?["description"]?.stringValue ?? ""
        #expect(project.contains("Default: shop."))
        #expect(try ToolArguments([:], defaultProject: "shop").project() == "shop")
        #expect(try ToolArguments(["project": "other"], defaultProject: "shop").project() == "other")
    }

    // MARK: Arguments

    @Test("arguments: typed values, defaults, and an invalid_request failure that names what is wrong")
    func arguments() throws {
        let arguments = ToolArguments([
            "name": "feature", "empty": "", "flag": true, "textFlag": "false", "count": 5, "whole": 5.0, "half": 5.5, "list": ["a", "b"],
            "mixed": ["a", 1], "params": [1, "x", nil, ["k": true]], "nothing": nil, "blank": "  \n",
        ])
        #expect(try arguments.string("name") == "feature")
        #expect(try arguments.optionalString("empty") == nil)
        #expect(try arguments.optionalString("nothing") == nil)
        #expect(try arguments.optionalBool("flag") == true)
        #expect(try arguments.optionalBool("textFlag") == false)
        #expect(try arguments.bool("absent", default: true))
        #expect(try arguments.optionalInt("count") == 5)
        #expect(try arguments.optionalInt("whole") == 5)
        #expect(try arguments.optionalStrings("list") == ["a", "b"])
        #expect(try arguments.optionalList("params")?.count == 4)

        #expect(failure { try arguments.string("missing") }?.message == "'missing' is required.")
        #expect(failure { try arguments.optionalInt("half") }?.message == "'half' must be a whole number.")
        #expect(failure { try arguments.optionalInt("count", in: 10...20) }?.message.contains("between 10 and 20") == true)
        #expect(failure { try arguments.optionalBool("name") }?.code == "invalid_request")
        #expect(failure { try arguments.optionalStrings("mixed") }?.message == "'mixed' must be a list of strings.")
        #expect(failure { try arguments.text("blank") }?.message == "'blank' is empty.")
        #expect(failure { try ToolArguments([:]).project() }?.message.contains("'project' is required") == true)

        // The SDK decodes a string that is a data: URL as binary data: it is the same string here.
        let image = "data:image/png;base64,iVBORw0KGgo="
        let decoded = try JSONDecoder().decode([String: Value].self, from: Data(#"{"image":"\#(image)"}"#.utf8))
        #expect(try ToolArguments(decoded).optionalString("image") == image)
    }

    @Test("an argument the schema does not list is refused, with the ones it takes")
    func unknownArguments() throws {
        let spec = try #require(BranchMCPServer.tools.first { $0.name == "delete_branch" })
        try ToolArguments(["project": "p", "branch": "b", "force": true]).check(against: spec)
        let refused = failure { try ToolArguments(["project": "p", "branch": "b", "forse": true]).check(against: spec) }
        #expect(refused?.code == "invalid_request")
        #expect(refused?.message.contains("'forse'") == true)
        #expect(refused?.message.contains("force") == true)
    }

    // MARK: Errors

    @Test("an API error body becomes a tool error with its code, message, hint and every other field")
    func apiErrors() throws {
        let body = Data(#"{"error":{"code":"migration_failed","message":"column \"x\" does not exist","hint":"Check it first.","sqlstate":"42703","position":8,"statement":"select x"}}"#.utf8)
        let failure = ToolFailure.fromAPI(status: 422, body: body)
        #expect(failure.code == "migration_failed")
        #expect(failure.message == #"column "x" does not exist"#)
        #expect(failure.hint == "Check it first.")
        #expect(failure.httpStatus == 422)
        #expect(failure.detail["sqlstate"] == "42703")
        #expect(failure.detail["position"] == 8)

        let result = failure.result
        #expect(result.isError == true)
        let error = try #require(result.structuredContent?.objectValue?["error"]?.objectValue)
        #expect(error["code"] == "migration_failed")
        #expect(error["statement"] == "select x")
        guard case .text(let text, _, _)? = result.content.first else { Issue.record("no text content"); return }
        let decoded = try JSONDecoder().decode(Components.Schemas.ErrorBody.self, from: Data(text.utf8))
        #expect(decoded.error.code == "migration_failed")
        #expect(decoded.error.sqlstate == "42703")
    }

    @Test("an answer without an error body: http_<status>")
    func bareErrors() {
        let failure = ToolFailure.fromAPI(status: 502, body: Data("<html>bad gateway</html>".utf8))
        #expect(failure.code == "http_502")
        #expect(failure.httpStatus == 502)
    }

    @Test("JSON passes through as it is: a text that looks like a data: URL stays text")
    func plainJSON() throws {
        let value = try PlainJSON.value(from: Data(#"{"rows":[["data:text/plain,hi",1,1.5,true,null]]}"#.utf8))
        #expect(value == ["rows": [["data:text/plain,hi", 1, 1.5, true, nil]]])
        #expect(ToolOutput.jsonText(value) == #"{"rows":[["data:text/plain,hi",1,1.5,true,null]]}"#)
    }

    // MARK: The diff stream

    @Test("diff lines gather into schemaChanges, rowChanges, tables and end; an error line is the tool's failure")
    func diffGathering() throws {
        var gathering = DiffGathering()
        for line in [
            #"{"type":"schema","schema":{"name":"public.todos","change":"added"}}"#,
            #"{"type":"row","row":{"table":"public.todos","change":"added"}}"#,
            #"{"type":"table","table":{"table":"public.todos","added":1}}"#,
            #"{"type":"future","future":{}}"#,
            #"{"type":"end","end":{"rowsAdded":1}}"#,
        ] {
            try gathering.add(try PlainJSON.value(from: Data(line.utf8)))
        }
        let answer = try gathering.answer()
        #expect(answer.objectValue?["schemaChanges"]?.arrayValue?.count == 1)
        #expect(answer.objectValue?["rowChanges"]?.arrayValue?.count == 1)
        #expect(answer.objectValue?["tables"]?.arrayValue?.count == 1)
        #expect(answer.objectValue?["end"] == ["rowsAdded": 1])

        var failed = DiffGathering()
        try failed.add(["type": "error", "error": ["code": "diff_side_not_found", "message": "No branch 'x'."]])
        #expect(failure { try failed.answer() }?.code == "diff_side_not_found")
        #expect(failure { try DiffGathering().answer() }?.code == "bad_response")
    }

    // MARK: Over HTTP, in process

    @Test("/mcp: the bearer key is required; initialize, tools/list, a tool error with the API's code, an unknown tool")
    func overHTTP() async throws {
        let endpoint = MCPEndpoint()
        let app = Application(router: try APIServer.router(api: MCPStub(), adminKey: Self.key, mcp: endpoint))
        try await app.test(.live) { client in
            endpoint.serviceStarted(at: try SocketAddress(ipAddress: "127.0.0.1", port: try #require(client.port)))
            let refused = try await client.execute(uri: "/mcp", method: .post, headers: Self.headers(key: nil), body: Self.message(1, "tools/list"))
            #expect(refused.status == .unauthorized)

            let initialized = try await rpc(client, Self.message(1, "initialize", [
                "protocolVersion": "2025-06-18", "capabilities": [:], "clientInfo": ["name": "test", "version": "1"],
            ]))
            #expect(initialized["result"]?.objectValue?["serverInfo"]?.objectValue?["name"] == "branch")

            let listed = try await rpc(client, Self.message(2, "tools/list"))
            let names = (listed["result"]?.objectValue?["tools"]?.arrayValue ?? []).compactMap { $0.objectValue?["name"]?.stringValue }
            #expect(Set(names) == Self.expected)

            let projects = try await rpc(client, Self.message(3, "tools/call", ["name": "list_projects", "arguments": [:]]))
            let result = try #require(projects["result"]?.objectValue)
            #expect(result["isError"] == nil || result["isError"] == false)
            #expect(result["structuredContent"]?.objectValue?["projects"]?.arrayValue?.count == 1)

            let missing = try await rpc(client, Self.message(4, "tools/call", ["name": "list_branches", "arguments": ["project": "nope"]]))
            let error = try #require(missing["result"]?.objectValue)
            #expect(error["isError"] == true)
            #expect(error["structuredContent"]?.objectValue?["error"]?.objectValue?["code"] == "project_not_found")

            let unknown = try await rpc(client, Self.message(5, "tools/call", ["name": "drop_everything", "arguments": [:]]))
            #expect(unknown["error"]?.objectValue?["code"] == .int(MCPError.invalidParams(nil).code))

            let stream = try await client.execute(
                uri: "/mcp", method: .get, headers: [.authorization: "Bearer \(Self.key)", .accept: "text/event-stream"])
            #expect(stream.status == .methodNotAllowed)
        }
    }

    @Test("a service that is not there: the tool error service_unreachable")
    func unreachable() async throws {
        let server = BranchMCPServer(connection: APIConnection(serviceURL: URL(string: "http://127.0.0.1:1")!, token: "k"), version: "test")
        let result = try await server.call(.init(name: "list_projects"), context: ToolContext(connection: server.connection))
        #expect(result.isError == true)
        #expect(result.structuredContent?.objectValue?["error"]?.objectValue?["code"] == "service_unreachable")
    }

    @Test("the loopback address of a service listening on all addresses")
    func loopback() throws {
        #expect(MCPEndpoint.loopbackURL(for: try SocketAddress(ipAddress: "0.0.0.0", port: 8420))?.absoluteString == "http://127.0.0.1:8420")
        #expect(MCPEndpoint.loopbackURL(for: try SocketAddress(ipAddress: "::", port: 8420))?.absoluteString == "http://[::1]:8420")
        #expect(MCPEndpoint.loopbackURL(for: try SocketAddress(ipAddress: "10.0.0.5", port: 80))?.absoluteString == "http://10.0.0.5:80")
    }

    // MARK: stdio

    @Test("stdio: requests read before the input ends are answered before the server is told it ended")
    func draining() async throws {
        let request = Data(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_projects"}}"#.utf8)
        let notification = Data(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.utf8)
        let base = ScriptedTransport(messages: [request, notification])
        let transport = await DrainingTransport(base: base, logger: Logger(label: "test"))
        let clock = ContinuousClock()
        let started = clock.now
        async let answered: Void = {
            try await Task.sleep(for: .milliseconds(200))
            try await transport.send(Data(#"{"jsonrpc":"2.0","id":1,"result":{}}"#.utf8))
        }()
        var received = 0
        for try await _ in transport.receive() { received += 1 }
        let ended = clock.now - started
        try await answered
        #expect(received == 2)
        #expect(ended >= .milliseconds(150), "the end of input was reported before the request was answered")
        #expect(await base.sent.count == 1)
    }

    @Test("stdio: ids are told apart by type; a cancelled request is not waited for")
    func drainingMessages() async throws {
        #expect(DrainingTransport.Message(Data(#"{"id":1,"method":"ping"}"#.utf8))?.id == "1")
        #expect(DrainingTransport.Message(Data(#"{"id":"1","result":{}}"#.utf8))?.id == #""1""#)
        let cancel = DrainingTransport.Message(Data(#"{"method":"notifications/cancelled","params":{"requestId":7}}"#.utf8))
        #expect(cancel?.cancelledID == "7" && cancel?.id == nil)

        let request = Data(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"diff"}}"#.utf8)
        let cancelled = Data(#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}"#.utf8)
        let transport = await DrainingTransport(base: ScriptedTransport(messages: [request, cancelled]), logger: Logger(label: "test"), grace: .seconds(30))
        var received = 0
        for try await _ in transport.receive() { received += 1 }
        #expect(received == 2)
    }

    // MARK: Helpers

    static let key = "bk_mcp_test"

    static func headers(key: String? = Self.key) -> HTTPFields {
        var fields: HTTPFields = [.contentType: "application/json", .accept: "application/json, text/event-stream"]
        if let key { fields[.authorization] = "Bearer \(key)" }
        return fields
    }

    static func message(_ id: Int, _ method: String, _ params: Value? = nil) -> ByteBuffer {
        var object: [String: Value] = ["jsonrpc": "2.0", "id": .int(id), "method": .string(method)]
        if let params { object["params"] = params }
        return ByteBuffer(string: ToolOutput.jsonText(.object(object)))
    }

    func rpc(_ client: some TestClientProtocol, _ message: ByteBuffer) async throws -> [String: Value] {
        let response = try await client.execute(uri: "/mcp", method: .post, headers: Self.headers(), body: message)
        #expect(response.status == .ok)
        return try #require(try PlainJSON.value(from: Data(response.body.readableBytesView)).objectValue)
    }

    func failure(_ body: () throws -> some Any) -> ToolFailure? {
        do {
            _ = try body()
            return nil
        } catch {
            return error as? ToolFailure
        }
    }
}

/// One project, `demo`; any other is not found.
struct MCPStub: StubAPI {
    func listProjects(_ input: Operations.ListProjects.Input) async throws -> Operations.ListProjects.Output {
        .ok(.init(body: .json(.init(projects: [
            .init(
                branches: 1, checkedOut: "main", createdAt: Date(timeIntervalSince1970: 0), database: "demo", name: "demo", poolerHost: "h",
                poolerPort: 6432, postgresMajor: 15, protectNewBranches: false, retentionDays: 7, role: "demo", snapshots: 0, suspendAfterSeconds: 900,
                suspendMainAfterSeconds: 0)
        ]))))
    }

    func listBranches(_ input: Operations.ListBranches.Input) async throws -> Operations.ListBranches.Output {
        throw TestError(code: .projectNotFound, message: "There is no project '\(input.path.project)'.", hint: "List projects.")
    }
}

/// A transport whose input is `messages`, then its end; it keeps what is sent.
actor ScriptedTransport: Transport {
    nonisolated let logger = Logger(label: "scripted")
    let messages: [Data]
    private(set) var sent: [Data] = []

    init(messages: [Data]) { self.messages = messages }

    func connect() async throws {}
    func disconnect() async {}
    func send(_ data: Data) async throws { sent.append(data) }

    func receive() -> AsyncThrowingStream<Data, any Error> {
        let (stream, continuation) = AsyncThrowingStream<Data, any Error>.makeStream()
        for message in messages { continuation.yield(message) }
        continuation.finish()
        return stream
    }
}
