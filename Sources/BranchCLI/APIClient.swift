import AsyncHTTPClient
import BranchAPI
import Foundation
import NIOCore
import NIOHTTP1

/// A thin client of /api/v1: JSON in, JSON out, API errors turned into `CLIError`s.
struct APIClient {
    /// A service that is not there should be reported at once, not retried for minutes (the
    /// shared client keeps retrying connection establishment until its connect timeout).
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(10)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    let configuration: ClientConfiguration

    init(configuration: ClientConfiguration = .load()) {
        self.configuration = configuration
    }

    func get<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws -> T {
        try await send(.GET, path, body: Optional<Empty>.none)
    }

    func post<T: Decodable, B: Encodable>(_ path: String, _ body: B?, as type: T.Type = T.self) async throws -> T {
        try await send(.POST, path, body: body)
    }

    func put<T: Decodable, B: Encodable>(_ path: String, _ body: B, as type: T.Type = T.self) async throws -> T {
        try await send(.PUT, path, body: body)
    }

    func patch<T: Decodable, B: Encodable>(_ path: String, _ body: B, as type: T.Type = T.self) async throws -> T {
        try await send(.PATCH, path, body: body)
    }

    /// Streams a response chunk by chunk, as it arrives, to `handle` (logs, exports).
    func stream(_ path: String, _ handle: (Data) throws -> Void) async throws {
        try await stream(.GET, path, body: nil, handle)
    }

    /// POSTs `body` and hands each line of the JSON Lines response to `handle`, decoded, as it arrives.
    func streamLines<T: Decodable, B: Encodable>(_ path: String, _ body: B, as type: T.Type = T.self, _ handle: (T) throws -> Void) async throws {
        var pending = Data()
        func drain(_ final: Bool) throws {
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) ?? (final && !pending.isEmpty ? pending.endIndex : nil) {
                let line = pending[pending.startIndex..<newline]
                pending = newline < pending.endIndex ? Data(pending[pending.index(after: newline)...]) : Data()
                guard !line.isEmpty else { continue }
                do {
                    try handle(try JSONDecoder.api.decode(T.self, from: line))
                } catch let error as DecodingError {
                    throw CLIError(code: "bad_response", message: "The service sent a line this CLI does not understand: \(error).")
                }
            }
        }
        try await stream(.POST, path, body: try JSONEncoder.api.encode(body)) { chunk in
            pending.append(chunk)
            try drain(false)
        }
        try drain(true)
    }

    private func stream(_ method: HTTPMethod, _ path: String, body: Data?, _ handle: (Data) throws -> Void) async throws {
        var request = HTTPClientRequest(url: configuration.url + path)
        request.method = method
        if let token = configuration.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await Self.http.execute(request, timeout: .hours(24 * 365))
        } catch {
            throw CLIError(
                code: "service_unreachable", message: "Cannot reach the Branch service at \(configuration.url): \(error).",
                hint: "Is `branch serve` running? Set BRANCH_URL or run `branch login URL --token KEY`.")
        }
        guard (200..<300).contains(response.status.code) else {
            let data = Data((try await response.body.collect(upTo: 1 << 20)).readableBytesView)
            if let error = try? JSONDecoder.api.decode(ErrorBody.self, from: data) {
                throw CLIError(code: error.error.code, message: error.error.message, hint: error.error.hint, httpStatus: Int(response.status.code))
            }
            throw CLIError(code: "http_\(response.status.code)", message: "The service answered \(response.status).")
        }
        for try await chunk in response.body {
            try handle(Data(chunk.readableBytesView))
        }
    }

    func delete<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws -> T {
        try await send(.DELETE, path, body: Optional<Empty>.none)
    }

    private struct Empty: Encodable {}

    private func send<T: Decodable, B: Encodable>(_ method: HTTPMethod, _ path: String, body: B?) async throws -> T {
        let data = try await perform(method, path, body: try body.map { try JSONEncoder.api.encode($0) })
        do {
            return try JSONDecoder.api.decode(T.self, from: data)
        } catch {
            throw CLIError(code: "bad_response", message: "The service sent a response this CLI does not understand: \(error).",
                           hint: "Are the CLI and the service the same version? (`branch status`)")
        }
    }

    private func perform(_ method: HTTPMethod, _ path: String, body: Data?) async throws -> Data {
        var request = HTTPClientRequest(url: configuration.url + path)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let token = configuration.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await Self.http.execute(request, timeout: .minutes(30))
        } catch {
            throw CLIError(
                code: "service_unreachable", message: "Cannot reach the Branch service at \(configuration.url): \(error).",
                hint: "Is `branch serve` running? Set BRANCH_URL or run `branch login URL --token KEY`.")
        }
        let buffer = try await response.body.collect(upTo: 256 << 20)
        let data = Data(buffer.readableBytesView)
        guard (200..<300).contains(response.status.code) else {
            if let error = try? JSONDecoder.api.decode(ErrorBody.self, from: data) {
                throw CLIError(code: error.error.code, message: error.error.message, hint: error.error.hint, httpStatus: Int(response.status.code))
            }
            throw CLIError(code: "http_\(response.status.code)", message: "The service answered \(response.status).", httpStatus: Int(response.status.code))
        }
        return data
    }
}

/// Path building with each segment percent-encoded.
enum APIPath {
    static func projects(_ project: String? = nil) -> String {
        project.map { "/api/v1/projects/\(encode($0))" } ?? "/api/v1/projects"
    }
    static func branches(_ project: String, _ branch: String? = nil) -> String {
        projects(project) + (branch.map { "/branches/\(encode($0))" } ?? "/branches")
    }
    static func snapshots(_ project: String, _ snapshot: String? = nil) -> String {
        projects(project) + (snapshot.map { "/snapshots/\(encode($0))" } ?? "/snapshots")
    }
    static func encode(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? segment
    }
}
