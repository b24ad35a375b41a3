import BranchAPI
import BranchCore
import BranchSystem
import BranchTesting
import Foundation
import Testing

@Suite("The HTTP API and the CLI's own behaviour", .serialized)
struct APIAndCLITests {
    static func curl(_ arguments: [String]) async throws -> (status: Int, body: String) {
        let result = try await Command.run("curl", ["-sS", "-w", "\n%{http_code}"] + arguments)
        var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.removeLast()) ?? 0
        return (status, lines.joined(separator: "\n"))
    }

    /// An operation of the OpenAPI document (Sources/BranchAPI/openapi.json): its method and path,
    /// and whether it needs the admin key (all do but those whose `security` is empty).
    struct DocumentedRoute {
        var method: String
        var path: String
        var requiresAuth: Bool

        static func all() throws -> [DocumentedRoute] {
            let document = try JSONSerialization.jsonObject(with: Data(APIDocument.text.utf8)) as? [String: Any]
            guard let paths = document?["paths"] as? [String: [String: Any]] else { throw TestFailure("the OpenAPI document has no paths") }
            return paths.flatMap { path, item in
                item.compactMap { method, operation -> DocumentedRoute? in
                    guard ["get", "put", "post", "delete", "patch"].contains(method), let operation = operation as? [String: Any] else { return nil }
                    let security = operation["security"] as? [Any]
                    return DocumentedRoute(method: method.uppercased(), path: path, requiresAuth: security?.isEmpty != true)
                }
            }.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
        }
    }

    @Test("every documented route exists and needs a token; only health (and signing in) answer without one")
    func authentication() async throws {
        try await TestEnvironment.with { env in
            for route in try DocumentedRoute.all() {
                let path = route.path
                    .replacingOccurrences(of: "{project}", with: "p").replacingOccurrences(of: "{branch}", with: "b")
                    .replacingOccurrences(of: "{snapshot}", with: "s")
                let anonymous = try await Self.curl(["-X", route.method, env.url + path])
                if route.requiresAuth {
                    #expect(anonymous.status == 401, "\(route.method) \(path)")
                    let body = try JSONDecoder.api.decode(Components.Schemas.ErrorBody.self, from: Data(anonymous.body.utf8))
                    #expect(body.error.code == "unauthorized")
                    let wrongKey = try await Self.curl(["-X", route.method, "-H", "Authorization: Bearer nope", env.url + path])
                    #expect(wrongKey.status == 401, "\(route.method) \(path) with a wrong key")
                } else if path == "/api/v1/login" {
                    // Open, but without credentials in the body it is a bad request, not a sign-in.
                    #expect(anonymous.status == 400, "\(route.method) \(path)")
                } else {
                    #expect(anonymous.status == 200, "\(route.method) \(path)")
                }
            }
            // The served document is the one in docs/.
            let served = try await Self.curl(["-H", "Authorization: Bearer \(env.token)", env.url + "/api/v1/openapi.json"])
            #expect(served.status == 200)
            let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            #expect(served.body == Files.read(repository.appendingPathComponent("docs/openapi.json").path))
        }
    }

    @Test("login stores URL and key privately; link names the project for a folder and its subfolders")
    func loginAndLink() async throws {
        try await TestEnvironment.with { env in
            _ = try await env.json(ProjectCreated.self, "project", "create", "app")
            // Without the environment variables, as on a laptop.
            let clean = ["BRANCH_URL": "", "BRANCH_TOKEN": ""]
            let badLogin = try await env.cli(["login", env.url, "--token", "wrong"], environment: clean)
            #expect(badLogin.status == 3)  // exit status 3: unauthorized
            #expect(!FileManager.default.fileExists(atPath: "\(env.home)/.config/branch/config.json"))

            let login = try await env.cli(["login", env.url, "--token", env.token], environment: clean)
            #expect(login.succeeded, "\(login.stderr)")
            let config = "\(env.home)/.config/branch/config.json"
            #expect(try FileManager.default.attributesOfItem(atPath: config)[.posixPermissions] as? Int == 0o600)
            #expect(Files.read(config)?.contains(env.token) == true)

            let link = try await env.cli(["link", "app"], environment: clean)
            #expect(link.succeeded)
            #expect(Files.read("\(env.workingDirectory)/.branch") == "{\"project\":\"app\"}\n")
            try Files.ensureDirectory("\(env.workingDirectory)/src/deep")
            let fromSubfolder = try await env.cli(["list"], environment: clean, directory: "\(env.workingDirectory)/src/deep")
            #expect(fromSubfolder.succeeded)
            #expect(fromSubfolder.stdout.contains("main *"))

            // `branch psql` opens psql on the pooled endpoint.
            let psql = try await env.cli(["psql", "--", "-XAtc", "select current_database()"], environment: clean)
            #expect(psql.output == "app")
        }
    }

    @Test("every command speaks --json; human output is plain text when not on a terminal")
    func outputs() async throws {
        try await TestEnvironment.with { env in
            try await env.linkedProject()
            _ = try await env.json(StatusResponse.self, "status")
            _ = try await env.json(ProjectInfo.self, "project", "show")
            _ = try await env.json(ConnectionResponse.self, "url", "main")
            let snapshot = try await env.json(SnapshotResult.self, "snapshot", "create", "--name", "s")
            _ = try await env.json(BranchResult.self, "restore", "s", "--as", "r")
            _ = try await env.json(BranchResult.self, "stop", "r")
            _ = try await env.json(BranchResult.self, "start", "r")
            _ = try await env.json(OperationList.self, "operations")
            _ = try await env.json(DeleteResult.self, "delete", "r")
            _ = try await env.json(DeleteResult.self, "snapshot", "delete", snapshot.snapshot.id)

            let human = try await env.cli("list")
            #expect(!human.stdout.contains("\u{1B}["), "no colour codes when stdout is not a terminal")
            #expect(human.stdout.contains("BRANCH"))
            let created = try await env.cli("create", "x")
            #expect(created.stdout.contains("Created branch x from main in "))
        }
    }
}
