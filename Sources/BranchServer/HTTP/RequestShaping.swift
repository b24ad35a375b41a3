import BranchConsole
import BranchCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import OpenAPIRuntime

/// Refuses request bodies over 1 MiB (`413 payload_too_large`) before anything reads them: the
/// generated server would otherwise collect a body of any size. SQL and migrations (also through
/// `/mcp`) may be up to 16 MiB.
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    static var limit: Int { 1 << 20 }
    static var sqlLimit: Int { 16 << 20 }
    /// The console's forms and scripts: SQL, and CSV imports of the table editor.
    static var consoleLimit: Int { 50 << 20 }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let limit = APICaller.acceptsProjectKeys(path) || path == "/mcp" ? Self.sqlLimit : Console.owns(path) ? Self.consoleLimit : Self.limit
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw TooLarge(limit: limit) }
        guard request.headers[.transferEncoding] != nil else { return try await next(request, context) }
        var request = request
        do {
            _ = try await request.collectBody(upTo: limit)
        } catch {
            throw TooLarge(limit: limit)
        }
        return try await next(request, context)
    }

    struct TooLarge: ReportableError {
        var limit: Int = 1 << 20
        var code: ErrorCode { .payloadTooLarge }
        var message: String { "The request body is larger than \(limit >> 20) MiB." }
        var hint: String? { limit > BodyLimitMiddleware.limit ? "Split the SQL into several migrations or requests." : nil }
    }
}

/// Keeps the request shapes the CLI and scripts have always sent working with the generated
/// server: an empty body on an endpoint whose body is optional means no body; a boolean query
/// flag may be `1`, `yes` or empty as well as `true`.
struct LenientRequests: ServerMiddleware {
    /// Query parameters that are booleans in the document.
    let flags: Set<String> = ["force", "remote", "pooled", "follow"]

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        let length = request.headerFields[.contentLength]
        let hasNoBody = length == "0" || (length == nil && request.headerFields[.transferEncoding] == nil)
        if let path = request.path, let query = path.split(separator: "?", maxSplits: 1).dropFirst().first {
            let items = query.split(separator: "&").map { item -> String in
                let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = parts.first, flags.contains(String(name)) else { return String(item) }
                let value = parts.count > 1 ? parts[1].lowercased() : ""
                return "\(name)=\(["1", "true", "yes"].contains(value) ? "true" : "false")"
            }
            request.path = String(path.split(separator: "?", maxSplits: 1)[0]) + "?" + items.joined(separator: "&")
        }
        return try await next(request, hasNoBody ? nil : body, metadata)
    }
}
