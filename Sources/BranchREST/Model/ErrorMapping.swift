package import BranchPostgres
import BranchCore
import Foundation

extension RESTError {
    /// A failed statement as PostgREST reports it: `code` is the SQLSTATE, `message`/`details`/`hint`
    /// the server's own fields, and the status PostgREST gives that SQLSTATE (DATA-API.md, "Errors";
    /// PostgREST's `mapSQLtoHTTP`). `RAISE SQLSTATE 'PTxyz'` answers status xyz, and `RAISE SQLSTATE
    /// 'PGRST'` with JSON message and detail takes over the whole response, as in PostgREST.
    /// Failures the server did not report (a lost connection, a call stopped on our side) carry
    /// `error.message`: 503 when the database could not be reached, so clients retry.
    package init(_ error: PostgresError, identity: RequestIdentity) {
        guard let sqlState = error.sqlState else {
            self = Self.clientFailure(error)
            return
        }
        let message = error.server?.message ?? error.message
        if sqlState == "PGRST" {
            self = Self.raisedResponse(message: message, detail: error.server?.detail)
            return
        }
        self.init(
            status: Self.status(sqlState: sqlState, message: message, anonymous: identity.isAnonymous),
            code: sqlState, message: message, details: error.server?.detail, hint: error.server?.hint)
    }

    /// The HTTP status of a SQLSTATE, PostgREST's table: `anonymous` turns a privilege error
    /// (42501, which row-level security raises too) into 401 instead of 403.
    package static func status(sqlState: String, message: String, anonymous: Bool) -> Int {
        switch sqlState {
        case "23503", "23505": return 409
        case "25006": return 405
        // pg-safeupdate's "DELETE requires a WHERE clause" is the client's mistake; any other
        // cardinality violation ("more than one row returned by a subquery") is the server's.
        case "21000": return message.hasSuffix("requires a WHERE clause") ? 400 : 500
        // A token naming a role that does not exist.
        case "22023": return message.hasPrefix("role") && message.hasSuffix("does not exist") ? 401 : 400
        case "53400": return 500
        case "57P01": return 503
        case "P0001": return 400
        case "42883": return message.hasPrefix("function xmlagg(") ? 406 : 404
        case "42P01": return 404
        case "42P17": return 500
        case "42501": return anonymous ? 401 : 403
        default: break
        }
        if sqlState.hasPrefix("PT") {
            guard let status = Int(sqlState.dropFirst(2)), (100...599).contains(status) else { return 500 }
            return status
        }
        switch sqlState.prefix(2) {
        case "08", "53": return 503
        case "0L", "0P", "28": return 403
        case "09", "25", "2D", "38", "39", "3B", "40", "54", "55", "57", "58", "F0", "HV", "P0", "XX": return 500
        default: return 400
        }
    }

    /// A failure without a SQLSTATE: the server never answered the statement.
    private static func clientFailure(_ error: PostgresError) -> RESTError {
        switch error.kind {
        case .postgresConnectionFailed:
            RESTError(status: 503, code: "PGRST000", message: "Could not connect with the database", details: error.message)
        case .postgresQueryFailed:
            // libpq's own failure (the connection dropped mid-statement): transient, worth a retry.
            RESTError(status: 503, code: "PGRST001", message: "Database client error", details: error.message)
        case .postgresQueryCancelled, .postgresQueryTimeout:
            // Stopped before the server saw it: the same code the server gives a cancelled statement.
            RESTError(status: 500, code: "57014", message: error.message)
        default:
            RESTError(status: 500, code: error.kind.rawValue, message: error.message)
        }
    }

    /// `RAISE SQLSTATE 'PGRST' USING MESSAGE = '{"code","message","details","hint"}',
    /// DETAIL = '{"status","headers"}'`: the function chooses the whole error response.
    private static func raisedResponse(message: String, detail: String?) -> RESTError {
        struct Body: Decodable {
            var code: String
            var message: String
            var details: String?
            var hint: String?
        }
        struct Response: Decodable {
            var status: Int
            var headers: [String: String]
        }
        let decoder = JSONDecoder()
        guard let body = try? decoder.decode(Body.self, from: Data(message.utf8)) else {
            return RESTError(
                status: 500, code: "PGRST121", message: "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
                details: "Invalid JSON value for MESSAGE: '\(message)'",
                hint: "MESSAGE must be a JSON object with obligatory keys: 'code', 'message' and optional keys: 'details', 'hint'.")
        }
        guard let detail, let response = try? decoder.decode(Response.self, from: Data(detail.utf8)), (100...599).contains(response.status) else {
            return RESTError(
                status: 500, code: "PGRST121", message: "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error",
                details: detail.map { "Invalid JSON value for DETAIL: '\($0)'" } ?? "DETAIL is missing in the RAISE statement",
                hint: "DETAIL must be a JSON object with obligatory keys: 'status', 'headers' and optional key: 'status_text'.")
        }
        var error = RESTError(status: response.status, code: body.code, message: body.message, details: body.details, hint: body.hint)
        error.headers = response.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        return error
    }
}
