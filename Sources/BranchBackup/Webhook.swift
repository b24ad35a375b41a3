import AsyncHTTPClient
package import Foundation
import NIOCore
import NIOHTTP1

/// Reports sent to a URL after scheduled backups: a JSON document, or Slack's incoming-webhook
/// format (`{"text": …}`). Delivery is retried three times (after 1, 4 and 16 s) on a network
/// error or a non-2xx answer.
package enum Webhook {
    package static func send(to url: String, json: [String: String], slackText: String?, delays: [Duration] = [.seconds(1), .seconds(4), .seconds(16)]) async -> Bool {
        let body: [String: String] = slackText.map { ["text": $0] } ?? json
        guard let data = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]) else { return false }
        for attempt in 0...delays.count {
            if await post(data, to: url) == nil { return true }
            if attempt < delays.count { try? await Task.sleep(for: delays[attempt]) }
        }
        return false
    }

    /// The client webhooks go through: a refused or failed connection fails the attempt at once
    /// (the callers retry on their own schedule) rather than being retried until the timeout, so a
    /// closed port costs milliseconds, not the whole timeout. Lives as long as the process.
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// POSTs a JSON document once; nil when the endpoint answered 2xx, else why not. The reason
    /// never holds the URL (its path is a credential): a status, or the kind of network error.
    package static func post(_ json: Data, to url: String, timeout: Duration = .seconds(10)) async -> String? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "branch")
        request.body = .bytes(ByteBuffer(bytes: json))
        do {
            let response = try await client.execute(request, timeout: .seconds(timeout.components.seconds))
            guard (200..<300).contains(response.status.code) else { return "the endpoint answered HTTP \(response.status.code)" }
            return nil
        } catch let error as HTTPClientError {
            return "\(error)".replacingOccurrences(of: url, with: "…")
        } catch {
            return String(describing: type(of: error)) + ": " + "\(error)".replacingOccurrences(of: url, with: "…")
        }
    }
}
