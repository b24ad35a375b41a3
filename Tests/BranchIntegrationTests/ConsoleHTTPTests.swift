import BranchSystem
import BranchTesting
import Foundation
import Testing

/// The console as a browser without JavaScript meets it (Tests/ConsoleClients/console_http.py):
/// the first-run screen, sessions, CSRF and origin checks, escaping, 404s, cached assets.
@Suite("Console over HTTP", .serialized)
struct ConsoleHTTPTests {
    @Test("first run, sign-in, CSRF, escaping, 404 and cached assets")
    func consoleOverHTTP() async throws {
        try await TestEnvironment.with { env in
            let run = try await PythonScript.run("Tests/ConsoleClients/console_http.py", [env.url, env.token], timeLimit: .seconds(120))
            #expect(run.succeeded, "\(run.stdout)\n\(run.stderr)")
        }
    }
}
