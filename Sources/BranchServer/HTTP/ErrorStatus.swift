import BranchCore

extension ErrorCategory {
    /// The one place error categories become HTTP statuses.
    var httpStatus: Int {
        switch self {
        case .invalidInput: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .conflict: 409
        case .tooLarge: 413
        case .rateLimited: 429
        case .unprocessable: 422
        case .internal: 500
        case .upstreamFailed: 502
        case .unavailable: 503
        case .insufficientStorage: 507
        case .timeout: 504
        case .requestTimeout: 408
        // nginx's "client closed request": nobody reads it, but the log shows what happened.
        case .cancelled: 499
        }
    }
}
