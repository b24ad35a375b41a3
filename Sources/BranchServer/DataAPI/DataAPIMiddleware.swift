import BranchCore
import BranchEngine
import BranchREST
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Serves every project's data API (`/p/{project}[/b/{branch}]/rest/v1/…` and `/auth/v1/…`, and the
/// branch's documents for agents, `openapi.json`, `swagger.json` and `ai-spec.md`) ahead
/// of the management API's admin-key check: these requests carry the project's own keys, which
/// the engine verifies. Here only HTTP is handled: CORS, reading the body, and turning the engine's
/// `DataResponse` into a Hummingbird response.
struct DataAPIMiddleware<Context: RequestContext & RemoteAddressRequestContext>: RouterMiddleware {
    let engine: Engine
    /// The largest request body the data API reads (a bulk insert of many rows).
    static var bodyLimit: Int { 50 << 20 }
    /// The auth endpoints take small JSON (credentials, a user's metadata).
    static var authBodyLimit: Int { 1 << 20 }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let route = DataAPIRoute(path: request.uri.path) else { return try await next(request, context) }
        if request.method == .options { return CORS.preflight(request) }
        let clientAddress = RequestOrigin.clientAddress ?? context.remoteAddress?.ipAddress
        try await AllowlistGuard.require(route.project, address: clientAddress, engine: engine)

        let limit = route.service == .auth ? Self.authBodyLimit : Self.bodyLimit
        // A declared length over the limit is refused before a byte of the body is read.
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { return Self.response(Self.tooLarge(limit)) }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            return Self.response(Self.tooLarge(limit))
        }
        let dataRequest = DataRequest(
            method: request.method.rawValue, path: route.path, rawQuery: request.uri.query ?? "",
            headers: request.headers.map { ($0.name.canonicalName, $0.value) }, body: Array(buffer: body),
            clientAddress: clientAddress)
        // The scheme as the client used it (https with --tls, or what a trusted proxy forwarded).
        let origin = RequestOrigin.current ?? "\(request.head.scheme ?? "http")://\(request.head.authority ?? "localhost")"
        let baseURL = origin + route.prefix
        let response: DataResponse
        switch route.service {
        case .rest, .auth:
            response = await engine.dataAPI.handle(
                project: route.project, branch: route.branch, service: route.service == .rest ? .rest : .auth, baseURL: baseURL, request: dataRequest)
        case .openAPI, .brief:
            response = await engine.dataAPI.document(
                route.service == .brief ? .brief : .openAPI, project: route.project, branch: route.branch, baseURL: baseURL,
                serviceURL: origin, requestBodyLimit: Self.bodyLimit, request: dataRequest)
        }
        return Self.response(response)
    }

    /// 413 in PostgREST's error shape.
    static func tooLarge(_ limit: Int) -> DataResponse {
        RESTError(
            status: 413, code: ErrorCode.payloadTooLarge.rawValue, message: "The request body is larger than \(limit >> 20) MiB.",
            hint: "Send fewer rows per request.").response
    }

    static func response(_ response: DataResponse) -> Response {
        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        CORS.addResponseHeaders(&fields)
        return Response(
            status: HTTPResponse.Status(code: response.status), headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: response.body)))
    }
}

/// Cross-origin rules for browsers (supabase-js): any origin, the methods the protocols use, the
/// headers a preflight asks for, and the response headers the clients read (without
/// `Content-Range` exposed, a browser client gets no count).
enum CORS {
    static let methods = "GET,POST,PATCH,PUT,DELETE,OPTIONS"
    static let exposed = "Content-Range, Range-Unit, Location, Content-Location, Content-Type, X-Supabase-Api-Version"

    static func preflight(_ request: Request) -> Response {
        var fields = HTTPFields()
        fields[.accessControlAllowOrigin] = "*"
        fields[.accessControlAllowMethods] = methods
        fields[.accessControlAllowHeaders] = request.headers[.accessControlRequestHeaders]
            ?? "Authorization, Content-Type, Accept, Accept-Profile, Content-Profile, Prefer, Range, apikey, x-client-info, x-supabase-api-version"
        fields[.accessControlMaxAge] = "86400"
        return Response(status: .ok, headers: fields)
    }

    static func addResponseHeaders(_ fields: inout HTTPFields) {
        fields[.accessControlAllowOrigin] = "*"
        fields[.accessControlExposeHeaders] = exposed
    }
}
