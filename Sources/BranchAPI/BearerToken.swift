package import Foundation
package import HTTPTypes
package import OpenAPIRuntime

/// `Authorization: Bearer <token>` on every request of a generated `Client`: what the CLI and the
/// MCP tools send the service.
package struct BearerToken: ClientMiddleware {
    let token: String

    package init(token: String) { self.token = token }

    package func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.authorization] = "Bearer \(token)"
        return try await next(request, body, baseURL)
    }
}
