import Foundation

/// Where a data API request goes: `/p/{project}[/b/{branch}]/{rest|auth}/v1{path}`, or one of the
/// branch's documents for agents, `/p/{project}[/b/{branch}]/{openapi.json|swagger.json|ai-spec.md}`.
struct DataAPIRoute: Equatable {
    var project: String
    var branch: String?
    var service: Service
    /// The rest of the path, from its `/` (`/` when empty).
    var path: String
    /// The part before the service, `/p/{project}[/b/{branch}]`, for the base URL.
    var prefix: String

    enum Service: String, Equatable {
        case rest, auth
        /// `openapi.json`, also served as `swagger.json`.
        case openAPI
        /// `ai-spec.md`.
        case brief
    }

    /// The documents' names, after the base URL.
    static let documents: [String: Service] = ["openapi.json": .openAPI, "swagger.json": .openAPI, "ai-spec.md": .brief]

    /// Nil for any path outside `/p/`; a path under `/p/` that names no service is not a data API route either.
    init?(path: String) {
        guard path.hasPrefix("/p/") else { return nil }
        var segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2).map(String.init)
        guard let project = segments.first, !project.isEmpty else { return nil }
        segments.removeFirst()
        var prefix = "/p/\(project)"
        var branch: String?
        if segments.count >= 2, segments[0] == "b" {
            guard !segments[1].isEmpty else { return nil }
            branch = segments[1]
            prefix += "/b/\(segments[1])"
            segments.removeFirst(2)
        }
        self.project = Self.decoded(project)
        self.branch = branch.map(Self.decoded)
        self.prefix = prefix
        if segments.count == 1, let document = Self.documents[segments[0]] {
            self.service = document
            self.path = "/" + segments[0]
            return
        }
        guard segments.count >= 2, let service = Service(rawValue: segments[0]), service == .rest || service == .auth, segments[1] == "v1"
        else { return nil }
        self.service = service
        self.path = "/" + segments.dropFirst(2).joined(separator: "/")
    }

    /// Percent-decoded, when there is anything to decode.
    private static func decoded(_ segment: String) -> String {
        segment.utf8.contains(UInt8(ascii: "%")) ? segment.removingPercentEncoding ?? segment : segment
    }
}
