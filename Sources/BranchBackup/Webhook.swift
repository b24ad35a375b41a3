import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Reports sent to a URL after scheduled backups: a JSON document, or Slack's incoming-webhook
/// format (`{"text": …}`). Delivery is retried three times (after 1, 4 and 16 s) on a network
/// error or a non-2xx answer.
package enum Webhook {
    package static func send(to url: String, json: [String: String], slackText: String?, delays: [Duration] = [.seconds(1), .seconds(4), .seconds(16)]) async -> Bool {
        let body: [String: String] = slackText.map { ["text": $0] } ?? json
        guard let data = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) else { return false }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "branch")
        request.body = .bytes(ByteBuffer(bytes: data))
        for attempt in 0...delays.count {
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(10)), (200..<300).contains(response.status.code) {
                return true
            }
            if attempt < delays.count { try? await Task.sleep(for: delays[attempt]) }
        }
        return false
    }
}
