import BranchSystem
import BranchTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Alerts still queued or retrying when the service stops are in the catalog's outbox, and the
/// next start delivers them.
@Suite("Alerts survive a restart", .serialized)
struct AlertOutboxTests {
    /// A webhook receiver on a chosen port (the channel's URL names it before it listens): every
    /// POST body is appended, one line each, to `file`.
    static func withReceiver<T>(port: Int, file: String, _ body: () async throws -> T) async throws -> T {
        let script = """
            import http.server, sys
            class Receiver(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                    with open(sys.argv[2], "ab") as out:
                        out.write(body.replace(b"\\n", b" ") + b"\\n")
                    self.send_response(200)
                    self.end_headers()
                def log_message(self, *arguments):
                    pass
            http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
            """
        let pid = try Command.launch("python3", ["-c", script, String(port), file], environment: Command.baseEnvironment, logFile: "\(file).log")
        defer {
            kill(pid, SIGKILL)
            _ = waitpid(pid, nil, 0)
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while try await !Command.run("bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port)"], check: false).succeeded {
            guard ContinuousClock.now < deadline else { throw TestFailure("the receiver did not listen: \(Files.read("\(file).log") ?? "")") }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await body()
    }

    static func poolSpaceAlerts(in file: String) -> Int {
        (Files.read(file) ?? "").split(separator: "\n").filter { $0.contains(#""event":"pool_space""#) || $0.contains(#""event" : "pool_space""#) }.count
    }

    @Test("an alert still retrying when the service stops is delivered, once, after it starts again")
    func redeliveredAfterRestart() async throws {
        try await TestEnvironment.with(serveArguments: ["--alert-check-interval", "1s"]) { env in
            let port = try TestEnvironment.freePort()
            let received = "\(env.root)/received.jsonl"
            #expect(try await env.cli("alerts", "set", "--webhook", "http://127.0.0.1:\(port)/hooks/outbox").succeeded)

            // A pool-space threshold this pool is already past: one alert, to a channel nobody answers yet.
            _ = await env.stopService()
            try await env.startService(arguments: ["--alert-pool-thresholds", "1"])
            let deadline = ContinuousClock.now + .seconds(30)
            while !(Files.read(env.serviceLog) ?? "").contains("alert delivery failed; retrying") {
                guard ContinuousClock.now < deadline else { throw TestFailure("the alert was not tried: \(Files.read(env.serviceLog) ?? "")") }
                try await Task.sleep(for: .milliseconds(200))
            }
            // Stopped while the delivery waits for its next attempt: the stop is not held up by it.
            let stopped = ContinuousClock.now
            #expect(await env.stopService() == 0)
            #expect(ContinuousClock.now - stopped < .seconds(20))
            #expect((Files.read(env.serviceLog) ?? "").contains("alert delivery left in the outbox for the next start"))

            // The channel's receiver is up now; the next start (no threshold crossed this time)
            // delivers what the last one left, once.
            try await Self.withReceiver(port: port, file: received) {
                try await env.startService()
                let arrival = ContinuousClock.now + .seconds(30)
                while Self.poolSpaceAlerts(in: received) == 0 {
                    guard ContinuousClock.now < arrival else {
                        throw TestFailure("the left alert was not delivered: \(Files.read(received) ?? "(nothing)")\n\(Files.read(env.serviceLog) ?? "")")
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
                #expect((Files.read(env.serviceLog) ?? "").contains("alerts left undelivered by the last run queued again"))
                // Delivered means forgotten: another restart sends nothing more.
                _ = await env.stopService()
                try await env.startService()
                try await Task.sleep(for: .seconds(3))
                #expect(Self.poolSpaceAlerts(in: received) == 1, "\(Files.read(received) ?? "")")
            }
        }
    }
}
