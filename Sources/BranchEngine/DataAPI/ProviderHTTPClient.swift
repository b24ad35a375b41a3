import AsyncHTTPClient
import BranchAuth
import NIOCore
import NIOHTTP1

/// The auth callback's client for sign-in providers: a form POST for the token, GETs for the user.
/// Answers are capped at 1 MiB and each call at 10 s, so a slow or hostile provider address (set
/// by the project's owner) holds one sign-in, not the service.
struct ProviderHTTPClient: OAuthHTTP {
    static let shared = ProviderHTTPClient()

    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(5)
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    static let timeout = TimeAmount.seconds(10)
    static let maximumBody = 1 << 20

    func postForm(_ url: String, form: String) async throws -> OAuthHTTPResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "branch")
        request.body = .bytes(ByteBuffer(string: form))
        return try await send(request)
    }

    func getJSON(_ url: String, bearer: String) async throws -> OAuthHTTPResponse {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        request.headers.add(name: "Accept", value: "application/json")
        // GitHub's API refuses requests without a User-Agent.
        request.headers.add(name: "User-Agent", value: "branch")
        return try await send(request)
    }

    private func send(_ request: HTTPClientRequest) async throws -> OAuthHTTPResponse {
        let response = try await Self.client.execute(request, timeout: Self.timeout)
        let body = try await response.body.collect(upTo: Self.maximumBody)
        return OAuthHTTPResponse(status: Int(response.status.code), body: Array(body.readableBytesView))
    }
}
