import ArgumentParser
import BranchAPI
import BranchCore
import Foundation
import OpenAPIRuntime

#if canImport(Glibc)
import Glibc
#endif

struct Top: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A live view of every branch server: state, CPU, memory, IO, connections, sizes, restarts.")

    @Option(name: [.short, .long], help: "Only this project.")
    var project: String?

    @Option(help: "Seconds between refreshes.")
    var interval: Double = 2

    @Flag(help: "Print one table and exit (what happens anyway when stdout is not a terminal).")
    var once = false

    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let live = !once && !output.json && isatty(STDOUT_FILENO) == 1
            repeat {
                let metrics = try await APIClient.make().getMetrics(query: .init(project: project, minutes: 0)).ok.body.json
                if output.json { return try Format.printJSON(metrics) }
                if live { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print(Self.render(metrics))
                if live {
                    print(Style.dim("\nEvery \(interval) s · Ctrl-C to quit"))
                    try await Task.sleep(for: .seconds(interval))
                }
            } while live
        }
    }

    static func render(_ metrics: MetricsResponse) -> String {
        var table = Table("PROJECT", "BRANCH", "STATE", "CPU", "MEMORY", "READ/s", "WRITE/s", "CONNS", "DB SIZE", "ON DISK", "RESTARTS")
        var totalMemory: UInt64 = 0
        var totalCPU = 0.0
        for series in metrics.series {
            guard let sample = series.samples.last else { continue }
            totalMemory += UInt64(clamping: sample.memoryBytes ?? 0)
            totalCPU += sample.cpuPercent ?? 0
            table.add(
                series.project, series.branch, Style.status(sample.status),
                sample.cpuPercent.map { String(format: "%.1f%%", $0) } ?? "-", Format.bytes(sample.memoryBytes),
                sample.ioReadBytesPerSecond.map { Format.bytes(UInt64($0)) } ?? "-",
                sample.ioWriteBytesPerSecond.map { Format.bytes(UInt64($0)) } ?? "-",
                sample.connections.map(String.init) ?? "-", Format.bytes(sample.databaseBytes), Format.bytes(sample.exclusiveBytes),
                String(sample.restarts))
        }
        if metrics.series.isEmpty { return "No branch has been sampled yet (samples are \(Int(metrics.intervalSeconds)) s apart)." }
        return table.rendered + "\n" + Style.dim("total: \(String(format: "%.1f%%", totalCPU)) CPU, \(ByteCount.format(totalMemory)) memory")
    }
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a branch server's Postgres log; --follow keeps streaming it.")

    @Argument(help: "The branch (default: the checked-out one).")
    var branch: String?

    @Option(name: [.customShort("n"), .customLong("lines")], help: "How many of the last lines.")
    var lines = 100

    @Flag(name: [.short, .long], help: "Keep streaming new lines until interrupted.")
    var follow = false

    @OptionGroup var project: ProjectOptions

    func run() async throws {
        try await reportingErrors {
            let project = try project.resolve()
            let branch: String
            if let given = self.branch {
                branch = given
            } else {
                branch = try await APIClient.make().getProject(path: .init(project: project)).ok.body.json.checkedOut
            }
            let log = try await APIClient.make(streaming: true).getBranchLogs(
                path: .init(project: project, branch: branch), query: .init(lines: lines, follow: follow)
            ).ok.body.plainText
            for try await chunk in log { Stdout.write(chunk) }
        }
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What happened to branch servers on their own: crashes, restarts, suspensions, resumes.")

    @Option(name: [.short, .long], help: "Only this project's events.")
    var project: String?

    @Option(help: "How many.")
    var limit = 30

    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(await APIClient.make().listEvents(query: .init(project: project, limit: limit)).ok.body.json) { list in
            var table = Table("AGE", "PROJECT", "BRANCH", "EVENT", "DETAIL")
            for event in list.events {
                table.add(Format.age(event.at), event.project, event.branch ?? "-", Style.status(event.kind), event.detail)
            }
            print(list.events.isEmpty ? "No events." : table.rendered)
        }
    }
}
