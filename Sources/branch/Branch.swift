import ArgumentParser
import BranchCLI

/// `branch`: the service (`branch serve`) and every client command in one executable.
@main
struct Branch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "branch",
        abstract: "Instant copy-on-write Postgres branches on your own server.",
        discussion: """
            Every command but `serve` talks to the service's HTTP API. Set BRANCH_URL and BRANCH_TOKEN, \
            or run `branch login URL --token KEY`. On the server itself, as root, the defaults just work.
            """,
        version: "0.1.0",
        subcommands: [Serve.self] + CLI.commands + [ReleaseCommand.self, UpgradeWatchdogCommand.self]
    )
}
