import BranchAPI
import BranchCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import OpenAPIRuntime

/// Turns every error into the API's error body, `{"error":{"code","message","hint"}}`: engine
/// errors with their code's status; what the generated server reports about the request (bad
/// JSON, a missing field, a wrong type) as 400 `invalid_request`; Hummingbird's own (an unknown
/// route) with theirs; anything else as a 500 whose request id is in the log.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let (status, detail) = Self.detail(for: error, request: request, requestID: context.id)
            if status >= 500 { context.logger.error("request failed", metadata: ["error": "\(error)", "requestId": "\(context.id)"]) }
            return JSONResponse.error(status: status, detail)
        }
    }

    static func detail(for error: any Error, request: Request, requestID: String) -> (Int, Components.Schemas.ErrorDetail) {
        var underlying = error
        var beforeHandler = false
        var runtimeStatus: HTTPResponse.Status?
        var cause: String?
        if let serverError = error as? ServerError {
            underlying = serverError.underlyingError
            beforeHandler = serverError.operationInput == nil
            runtimeStatus = serverError.httpStatus
            cause = serverError.causeDescription
        }
        switch underlying {
        case let error as any StatementFailureError:
            return (error.category.httpStatus, .init(statementError: error))
        case let error as any ReportableError:
            return (error.category.httpStatus, .init(code: error.code.rawValue, hint: error.hint, message: error.message))
        case let error as DecodingError:
            return (400, .init(code: ErrorCode.invalidRequest.rawValue, hint: schemaHint, message: describe(error)))
        case is NIOTooManyBytesError:
            // A body collected past its limit anywhere (the size middleware answers most before).
            return (413, .init(code: ErrorCode.payloadTooLarge.rawValue, message: "The request body is larger than this endpoint takes."))
        case let error as HTTPError:
            let code: ErrorCode = error.status == .notFound ? .notFound : error.status == .unauthorized ? .unauthorized : .badRequest
            let message = error.body ?? (error.status == .notFound ? "No such endpoint: \(request.method) \(request.uri.path)." : error.status.reasonPhrase)
            return (Int(error.status.code), .init(code: code.rawValue, message: message))
        default:
            if let runtimeStatus, runtimeStatus.code < 500 {
                return (Int(runtimeStatus.code), .init(code: ErrorCode.invalidRequest.rawValue, hint: schemaHint, message: sentence(cause ?? "\(underlying)")))
            }
            if beforeHandler {
                return (400, .init(code: ErrorCode.invalidRequest.rawValue, hint: schemaHint, message: sentence("The request does not match the API: \(underlying)")))
            }
            return (500, .init(
                code: ErrorCode.internalError.rawValue, hint: "Look for request id \(requestID) in the service log.",
                message: "Something unexpected went wrong.", requestId: requestID))
        }
    }

    /// The status and code an error will be answered with, for the audit log.
    static func classify(_ error: any Error) -> (status: Int, code: String) {
        var underlying = error
        if let serverError = error as? ServerError { underlying = serverError.underlyingError }
        switch underlying {
        case let error as any ReportableError: return (error.category.httpStatus, error.code.rawValue)
        case is DecodingError: return (400, ErrorCode.invalidRequest.rawValue)
        case is NIOTooManyBytesError: return (413, ErrorCode.payloadTooLarge.rawValue)
        case let error as HTTPError: return (Int(error.status.code), "http_\(error.status.code)")
        default: return (500, ErrorCode.internalError.rawValue)
        }
    }

    static var schemaHint: String { "See the OpenAPI document at /api/v1/openapi.json." }

    /// What a JSON body got wrong, in words.
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "The JSON body is missing '\(key.stringValue)'."
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "A field of the JSON body has the wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'."
        case .dataCorrupted(let context) where !context.codingPath.isEmpty:
            "A field of the JSON body is not valid at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'."
        default: "The request body is not valid JSON for this endpoint."
        }
    }

    static func sentence(_ text: String) -> String { text.hasSuffix(".") ? text : text + "." }
}

/// JSON responses with the API's encoding (sorted keys, ISO 8601 dates).
enum JSONResponse {
    static func error(status: Int, _ detail: Components.Schemas.ErrorDetail) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(Components.Schemas.ErrorBody(error: detail)) else { return Response(status: .internalServerError) }
        return Response(
            status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
