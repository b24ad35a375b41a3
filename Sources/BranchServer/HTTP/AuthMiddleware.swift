import BranchCore
import Crypto
import Foundation
import Hummingbird

/// Requires `Authorization: Bearer <admin key>` on every endpoint but those open to all (the
/// health check).
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
