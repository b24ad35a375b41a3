package import Foundation
package import MCP

/// Why a tool call failed, as the agent sees it: the API's error body (`{"error": {"code",
/// "message", "hint", …}}`) with every field the service sent (a migration's `sqlstate`,
/// `position`, `statement`…), or one of the few codes this side adds: `invalid_request` (the
/// arguments do not fit the tool's schema), `service_unreachable`, `bad_response`.
///
/// It becomes an MCP tool error (`isError: true`), not a protocol error, so the model reads it
/// and can correct itself.
package struct ToolFailure: Error, CustomStringConvertible, Equatable {
    /// The stable code: the API's, or one of this side's.
    package let code: String
    /// One sentence saying what went wrong.
    package let message: String
    /// What to do next, when there is something to do.
    package let hint: String?
    /// The HTTP status the API answered with; 0 when the call never got an answer.
    package let httpStatus: Int
    /// The error object as sent (`code`, `message` and any other fields); built from the fields
    /// above when the failure did not come from the API.
    package let detail: [String: Value]

    package init(code: String, message: String, hint: String? = nil, httpStatus: Int = 0, detail: [String: Value]? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.httpStatus = httpStatus
        var fields = detail ?? [:]
        fields["code"] = .string(code)
        fields["message"] = .string(message)
        if let hint { fields["hint"] = .string(hint) }
        self.detail = fields
    }

    package var description: String { hint.map { "\(code): \(message) (\($0))" } ?? "\(code): \(message)" }

    /// The failure an API answer that is not 2xx stands for: its `{"error": {…}}` body, or
    /// `http_<status>` when the body is not one.
    package static func fromAPI(status: Int, body: Data) -> ToolFailure {
        if let object = (try? PlainJSON.value(from: body))?.objectValue,
            let error = object["error"]?.objectValue, let code = error["code"]?.stringValue, let message = error["message"]?.stringValue
        {
            return ToolFailure(code: code, message: message, hint: error["hint"]?.stringValue, httpStatus: status, detail: error)
        }
        return ToolFailure(
            code: "http_\(status)", message: "The service answered HTTP \(status) without an error body.", httpStatus: status)
    }

    /// Arguments that do not fit the tool's input schema.
    package static func invalidArgument(_ message: String) -> ToolFailure {
        ToolFailure(code: "invalid_request", message: message, hint: "See the tool's input schema (tools/list).")
    }

    /// The tool result that reports this failure: `isError: true`, the error object as JSON text
    /// and as structured content, `{"error": {…}}` like the API's error body.
    package var result: CallTool.Result {
        let body: Value = .object(["error": .object(detail)])
        return ToolOutput.result(text: ToolOutput.jsonText(body), structured: body, isError: true)
    }
}
