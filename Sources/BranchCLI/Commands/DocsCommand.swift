import ArgumentParser
import AsyncHTTPClient
import BranchAPI
import Foundation
import NIOCore
import NIOHTTP1

/// `branch docs [BRANCH]`: the agent brief of a project's data API (what `{url}/ai-spec.md`
/// answers), read with the project's service_role key; `--openapi` prints the OpenAPI document.
struct DocsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docs",
        abstract: "Print the brief an AI agent reads before using a project: schema, relations, row-level security in words, example calls, safe migrations.",
        discussion: """
            Without a branch: the project's data API, which follows `branch checkout`; with one, that branch's \
            (/p/PROJECT/b/BRANCH). The same as GET {url}/ai-spec.md with the service_role key; --openapi prints \
            {url}/openapi.json, an OpenAPI 3.1 document of the branch's REST and auth endpoints. Both are built from \
            the live schema: read them again after a migration.
            """)

    @Argument(help: "A branch (default: the checked-out one).")
    var branch: String?

    @Flag(name: .long, help: "Print the OpenAPI 3.1 document (JSON) instead of the brief.")
    var openapi = false

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    /// What `--json` prints with the brief.
    struct Printed: Encodable {
        var url: String
        var brief: String
    }

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let name = try project.resolve()
            let keys = DataAPIKeys(try await APIClient.make().getProjectKeys(path: .init(project: name)).ok.body.json)
            let base = keys.url + (branch.map { "/b/\($0)" } ?? "")
            let url = base + (openapi ? "/openapi.json" : "/ai-spec.md")
            let text = try await Self.fetch(url, key: keys.serviceRoleKey)
            if output.json && !openapi { return try Format.printJSON(Printed(url: url, brief: text)) }
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
    }

    /// The body of `GET url` with `key` as `apikey` and bearer; a failure is the data API's error
    /// (PostgREST's `{"code","message","hint"}`) as a `CLIError`.
    static func fetch(_ url: String, key: String) async throws -> String {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "apikey", value: key)
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await ClientConfiguration.load().trust.httpClient().execute(request, timeout: .minutes(2))
            body = try await response.body.collect(upTo: 256 << 20)
        } catch {
            throw CLIError(code: "service_unreachable", message: "Cannot reach the data API at \(url): \(error).", hint: APIClient.unreachableHint)
        }
        let text = String(buffer: body)
        guard response.status == .ok else {
            /// PostgREST's error body.
            struct Failure: Decodable {
                let code: String
                let message: String
                let hint: String?
            }
            let status = Int(response.status.code)
            if let failure = try? JSONDecoder().decode(Failure.self, from: Data(text.utf8)) {
                throw CLIError(code: failure.code, message: failure.message, hint: failure.hint, httpStatus: status)
            }
            throw CLIError(code: "http_\(status)", message: "The data API answered \(response.status) for \(url).", httpStatus: status)
        }
        return text
    }
}
