import BranchSystem
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Running commands")
struct CommandTests {
    @Test("a program that leaves a daemon holding its output returns when it exits, not when the daemon does")
    func daemonizing() async throws {
        let started = ContinuousClock.now
        // The background sleep inherits stdout and stderr, as a daemon started without a log file would.
        let result = try await Command.run("/bin/sh", ["-c", "sleep 30 & echo $!"])
        #expect(ContinuousClock.now - started < .seconds(5))
        let pid = try #require(Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, 0) == 0, "the daemon runs on")
        kill(pid, SIGKILL)
    }

    @Test("cancelling the caller kills the command")
    func cancellation() async throws {
        let started = ContinuousClock.now
        let task = Task { try await Command.run("/bin/sleep", ["30"], check: false) }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        _ = try? await task.value
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("exit status, output, input and a failure's tail")
    func basics() async throws {
        let echoed = try await Command.run("/bin/cat", input: "hello\n")
        #expect(echoed.stdout == "hello\n" && echoed.status == 0)
        let failed = try await Command.run("/bin/sh", ["-c", "echo oops >&2; exit 3"], check: false)
        #expect(failed.status == 3 && failed.tail == "oops")
        await #expect(throws: CommandError.self) { try await Command.run("/bin/false") }
        await #expect(throws: CommandError.self) { try await Command.run("/nonexistent/program") }
    }
}
