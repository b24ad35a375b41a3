import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The console's kinds of answer: a page, a redirect (after a form, with a flash message), JSON
/// for the small scripts, an event stream.
enum HTMLResponses {
    static func html(_ html: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// A 303 to `location`, with a one-time message for the next page.
    static func redirect(_ location: String, flash: String? = nil, error: Bool = false, cookies: SessionCookies) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        if let flash {
            headers.append(HTTPField(name: .setCookie, value: cookies.set(SessionCookies.flash, FormFields.encode((error ? "e:" : "o:") + flash), maxAge: 60)))
        }
        return Response(status: .seeOther, headers: headers)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
