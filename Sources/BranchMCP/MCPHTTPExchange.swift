package import Foundation
import MCP

/// MCP's streamable HTTP transport in its stateless form, one HTTP request at a time: each POST
/// gets a fresh server on a `StatelessHTTPServerTransport`, answers with JSON (no session id, no
/// SSE stream), and the server is stopped before the answer is returned. A fresh server per
/// request keeps callers apart: each request's tools call the API with that request's own key,
/// and no JSON-RPC id of one client can meet another's. GET (the optional server-to-client
/// stream) and DELETE (session end) answer 405, which clients take as "not offered".
///
/// The caller is already authenticated (the service's bearer-key check runs before), so the
/// transport's DNS-rebinding check of Origin/Host is not used: a page in a browser cannot send
/// the key.
package enum MCPHTTPExchange {
    /// An HTTP request as the framework received it.
    package struct Request: Sendable {
        package let method: String
        package let headers: [String: String]
        package let body: Data?

        package init(method: String, headers: [String: String], body: Data?) {
            self.method = method
            self.headers = headers
            self.body = body
        }
    }

    /// The HTTP answer to write back.
    package struct Answer: Sendable, Equatable {
        package let status: Int
        package let headers: [String: String]
        package let body: Data
    }

    /// Answers `request` with the tools of `server` (whose connection carries the caller's key).
    package static func respond(to request: Request, with server: BranchMCPServer) async -> Answer {
        let transport = StatelessHTTPServerTransport(
            validationPipeline: StandardValidationPipeline(validators: [
                AcceptHeaderValidator(mode: .jsonOnly), ContentTypeValidator(), ProtocolVersionValidator(),
            ]))
        let mcp = await server.makeServer()
        do {
            try await mcp.start(transport: transport)
        } catch {
            return answer(.error(statusCode: 500, .internalError("The MCP server did not start: \(error).")))
        }
        let response = await transport.handleRequest(HTTPRequest(method: request.method, headers: request.headers, body: request.body, path: "/mcp"))
        await mcp.stop()
        return answer(response)
    }

    static func answer(_ response: HTTPResponse) -> Answer {
        Answer(status: response.statusCode, headers: response.headers, body: response.bodyData ?? Data())
    }
}
