import BranchSystem
import Foundation

/// The Python programs of the test suite (Tests/DataAPIClients: Supabase's own client library,
/// schemathesis), run with the repository's virtualenv, where scripts/test.sh installs them.
package enum PythonScript {
    /// The repository's root, found from this file's place in it.
    package static var repository: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// `BRANCH_TEST_PYTHON`, else the repository's `.venv/bin/python`.
    package static var interpreter: String? {
        if let path = ProcessInfo.processInfo.environment["BRANCH_TEST_PYTHON"], !path.isEmpty { return path }
        let venv = "\(repository)/.venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }

    /// Runs `script` (a path under the repository) with `arguments`, the base environment plus
    /// `environment`, and a time limit after which it is killed; returns what it printed and its
    /// exit status (non-zero is not an error here: the caller judges it).
    package static func run(
        _ script: String, _ arguments: [String] = [], environment: [String: String] = [:], timeLimit: Duration = .seconds(300)
    ) async throws -> CLIResult {
        guard let interpreter else {
            throw TestFailure("no Python for \(script): run scripts/test.sh (it makes .venv), or set BRANCH_TEST_PYTHON")
        }
        var variables = environment
        // Unbuffered, so a killed run still shows how far it got; no __pycache__ in the source tree.
        variables["PYTHONUNBUFFERED"] = "1"
        variables["PYTHONDONTWRITEBYTECODE"] = "1"
        let seconds = String(Int(timeLimit.components.seconds))
        let result = try await Command.run(
            "timeout", ["--kill-after=10", seconds, interpreter, "\(repository)/\(script)"] + arguments,
            environment: variables, check: false)
        return CLIResult(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }
}
