import BranchAPI
import BranchCore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Turns every error into the API's error body: `ReportableError`s with their code and status,
/// Hummingbird's own errors (bad JSON, unknown route) with theirs, anything else as a 500 whose
/// request id is in the log.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any ReportableError {
            let status = error.category.httpStatus
            if status >= 500 {
                context.logger.error("request failed", metadata: ["code": "\(error.code)", "error": "\(error.message)"])
            }
            return JSONResponse.error(
                status: status, ErrorBody.Detail(code: error.code.rawValue, message: error.message, hint: error.hint))
        } catch let error as HTTPError {
            let code = error.status == .notFound ? "not_found" : error.status == .unauthorized ? "unauthorized" : "bad_request"
            let message = error.body ?? (error.status == .notFound ? "No such endpoint: \(request.method) \(request.uri.path)." : error.status.reasonPhrase)
            return JSONResponse.error(status: Int(error.status.code), ErrorBody.Detail(code: code, message: message))
        } catch {
            context.logger.error("unexpected error", metadata: ["error": "\(error)"])
            return JSONResponse.error(
                status: 500,
                ErrorBody.Detail(
                    code: "internal_error", message: "Something unexpected went wrong.",
                    hint: "Look for request id \(context.id) in the service log.", requestId: context.id))
        }
    }
}

/// Requires `Authorization: Bearer <admin key>` on every endpoint but the health check.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let keyDigest: SHA256.Digest
    let openPaths: Set<String>

    init(adminKey: String, openPaths: Set<String>) {
        self.keyDigest = SHA256.hash(data: Data(adminKey.utf8))
        self.openPaths = openPaths
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method == .get && openPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw Unauthorized(message: "This endpoint needs an admin key.")
        }
        // Compare digests, not strings, so timing says nothing about the key.
        let presented = SHA256.hash(data: Data(header.dropFirst("Bearer ".count).utf8))
        guard presented == keyDigest else { throw Unauthorized(message: "The admin key is not valid.") }
        return try await next(request, context)
    }

    struct Unauthorized: ReportableError {
        let message: String
        var code: ErrorCode { .unauthorized }
        var hint: String? { "Send `Authorization: Bearer <key>`; the key is in <pool>/admin.key (`branch login URL --token KEY`)." }
    }
}

/// JSON responses with the API's encoder.
enum JSONResponse {
    static func make<T: Encodable>(_ value: T, status: Int = 200) throws -> Response {
        let data = try JSONEncoder.api.encode(value)
        return Response(
            status: HTTPResponse.Status(code: status),
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(status: Int, _ detail: ErrorBody.Detail) -> Response {
        (try? make(ErrorBody(error: detail), status: status))
            ?? Response(status: .internalServerError)
    }
}
