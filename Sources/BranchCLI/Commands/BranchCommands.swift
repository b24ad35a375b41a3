import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct CreateBranch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a branch: a copy-on-write copy of a branch or snapshot, with its own Postgres.")

    @Argument(help: "Name of the new branch.")
    var name: String

    @Option(help: "Branch to copy (default: main).")
    var from: String?

    @Option(help: "Snapshot (id or name) to start from instead of a branch.")
    var snapshot: String?

    @Option(help: "Re-create the source branch as it was at this point: an instant in ISO 8601 (2026-11-21T10:15:30Z), a time ago (90s-ago, 15m-ago, 2h-ago), or a WAL position of its current history (0/16B3748, as pg_current_wal_lsn() gives it).")
    var at: String?

    @Option(help: "Delete the branch after this long: 90m, 12h, 7d (up to a year), or never. Without it, the project's default (`branch project set --new-branch-ttl`). `branch expire` changes it.")
    var ttl: String?

    @Flag(inversion: .prefixedNo, help: "Protect it from deletion and reset (without either, the project's default, `--protect-new-branches`).")
    var protect: Bool?

    @Flag(help: "Without the source's rows: its tables, views, functions and migration history, every table empty.")
    var schemaOnly = false

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let ttlSeconds = try ttl.map { try Lifetime.requiredOrNever($0, option: "--ttl") }
            let point = try at.map { text -> PastPoint in
                guard let point = PastPoint.parse(text) else {
                    throw CLIError(
                        code: "invalid_request", message: "--at: '\(text)' is not an instant or a WAL position.",
                        hint: "Use ISO 8601 like 2026-11-21T10:15:30Z, a time ago like -15m, or a WAL position like 0/16B3748.")
                }
                return point
            }
            let result = try await APIClient.make().createBranch(
                path: .init(project: try project.resolve()), body: .json(.init(
                    at: point?.instant, atLsn: point?.position?.description, from: from, name: name, protected: protect,
                    schemaOnly: schemaOnly ? true : nil, snapshot: snapshot, ttlSeconds: ttlSeconds))
            ).created.body.json
            if output.json { return try Format.printJSON(result) }
            var source = snapshot.map { "snapshot \($0)" } ?? (result.branch.parent ?? "main")
            if let point { source += " as of \(point)" }
            if schemaOnly { source += ", schema only (every table empty)" }
            print("\(Style.green("✓")) Created branch \(Style.bold(result.branch.name)) from \(source) \(Format.timing(result.operation)); accepting connections on port \(result.branch.port).")
            print("  `branch url \(result.branch.name)` prints its URL; `branch checkout \(result.branch.name)` points your app at it.")
            if let expiresAt = result.branch.expiresAt {
                print("  It is deleted at \(expiresAt.formatted(.iso8601)) (`branch expire \(result.branch.name) --never` keeps it).")
            }
            if result.branch.protected {
                print("  It is protected: delete and reset are refused until `branch protect \(result.branch.name) --off`.")
            }
        }
    }
}

struct ProtectBranch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protect", abstract: "Protect a branch: it cannot be deleted or reset, and outlives its time to live.")

    @Argument(help: "The branch.")
    var name: String

    @Flag(help: "Remove the protection.")
    var off = false

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(
            await APIClient.make().updateBranch(
                path: .init(project: try project.resolve(), branch: name), body: .json(.init(protected: !off))
            ).ok.body.json
        ) { branch in
            print(branch.protected
                ? "\(Style.green("✓")) Branch \(name) is protected: delete and reset are refused until `branch protect \(name) --off`."
                : "\(Style.green("✓")) Branch \(name) is no longer protected.")
        }
    }
}

struct RenameBranch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rename", abstract: "Rename a branch (its server restarts; its own URL changes with its name).")

    @Argument(help: "The branch.")
    var name: String

    @Argument(help: "Its new name.")
    var newName: String

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(
            await APIClient.make().renameBranch(
                path: .init(project: try project.resolve(), branch: name), body: .json(.init(name: newName))
            ).ok.body.json
        ) { result in
            print("\(Style.green("✓")) Renamed \(name) to \(result.branch.name) \(Format.timing(result.operation)).")
            print("  Its own URL is now `branch url \(result.branch.name)`\(result.branch.checkedOut ? "; the project's endpoint still reaches it" : "").")
        }
    }
}

struct ExpireBranch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire", abstract: "Set when the service deletes a branch (its time to live), or keep it until deleted.")

    @Argument(help: "The branch.")
    var name: String

    @Option(name: .customLong("in"), help: "Delete it after this long from now: 90m, 12h, 7d (up to a year).")
    var after: String?

    @Flag(help: "Keep it until it is deleted.")
    var never = false

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let ttlSeconds: Int
            switch (after, never) {
            case (let text?, false): ttlSeconds = try Lifetime.required(text, option: "--in")
            case (nil, true): ttlSeconds = 0
            default: throw CLIError(code: "invalid_request", message: "Give --in DURATION or --never.", hint: "For example `branch expire \(name) --in 7d`.")
            }
            let branch = try await APIClient.make().updateBranch(
                path: .init(project: try project.resolve(), branch: name), body: .json(.init(ttlSeconds: ttlSeconds))
            ).ok.body.json
            if output.json { return try Format.printJSON(branch) }
            if let expiresAt = branch.expiresAt {
                print("\(Style.green("✓")) Branch \(name) is deleted at \(expiresAt.formatted(.iso8601))\(branch.protected ? " (it is protected: it stays until unprotected)" : "").")
            } else {
                print("\(Style.green("✓")) Branch \(name) is kept until it is deleted.")
            }
        }
    }
}

struct ListBranches: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Show the project's branches as a tree.")

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(await APIClient.make().listBranches(path: .init(project: try project.resolve())).ok.body.json) { list in
            var table = Table("BRANCH", "STATE", "PORT", "SIZE", "AGE", "KEPT", "FROM")
            for (label, branch) in BranchTree.lines(list.branches) {
                let state = branch.state == "ready" ? branch.status : branch.state
                let kept = branch.protected ? "protected" : branch.expiresAt.map { "\(Format.timeLeft(until: $0)) left" } ?? "-"
                table.add(
                    branch.checkedOut ? "\(label) \(Style.green("*"))" : label, Style.status(state), "\(branch.port)",
                    Format.bytes(branch.exclusiveBytes), Format.age(branch.createdAt), kept, branch.createdFrom?.text(parent: branch.parent) ?? "-")
            }
            print(table.rendered)
            print(Style.dim("* checked out: the project's pooled endpoint reaches it. SIZE: bytes on disk only this branch holds."))
        }
    }
}

struct DeleteBranch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a branch.")

    @Argument(help: "The branch.")
    var name: String

    @Flag(help: "Also main, or a branch with children (they keep their data and move under its parent).")
    var force = false

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(
            await APIClient.make().deleteBranch(
                path: .init(project: try project.resolve(), branch: name), query: .init(force: force)
            ).ok.body.json
        ) { result in
            print("\(Style.green("✓")) Deleted branch \(name) \(Format.timing(result.operation)).")
        }
    }
}

struct ResetBranch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset", abstract: "Re-create a branch from its parent's current state (the old state is kept as a snapshot).")

    @Argument(help: "The branch.")
    var name: String

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(await APIClient.make().resetBranch(path: .init(project: try project.resolve(), branch: name)).ok.body.json) { result in
            print("\(Style.green("✓")) Reset \(name) to \(result.branch.parent ?? "its parent")'s current state \(Format.timing(result.operation)).")
            if let previous = result.replacedStateSnapshot {
                print("  The previous state is snapshot \(previous.id): `branch restore \(previous.id) --in-place` undoes this.")
            }
        }
    }
}

struct StartBranch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a branch's server.")

    @Argument(help: "The branch.")
    var name: String

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(await APIClient.make().startBranch(path: .init(project: try project.resolve(), branch: name)).ok.body.json) { result in
            print("\(Style.green("✓")) Started \(name) \(Format.timing(result.operation)).")
        }
    }
}

struct StopBranch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Stop a branch's server (it stays stopped across restarts).")

    @Argument(help: "The branch.")
    var name: String

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(await APIClient.make().stopBranch(path: .init(project: try project.resolve(), branch: name)).ok.body.json) { result in
            print("\(Style.green("✓")) Stopped \(name) \(Format.timing(result.operation)).")
        }
    }
}

struct Checkout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Point the project's pooled endpoint at a branch: your app's unchanged URL now reaches it.")

    @Argument(help: "The branch.")
    var name: String

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(
            await APIClient.make().checkout(
                path: .init(project: try project.resolve()), body: .json(.init(branch: name))
            ).ok.body.json
        ) { result in
            print("\(Style.green("✓")) \(result.project) now reaches \(Style.bold(result.checkedOut)) (was \(result.previous)) \(Format.timing(result.operation)). New connections go there.")
        }
    }
}

struct URLCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "url",
        abstract: "Print a postgres:// URL through the pooler: the project's endpoint (follows checkout), or one branch's.")

    @Argument(help: "A branch for its own pooled entry (`project__branch`; default: the project's endpoint).")
    var branch: String?

    @Flag(help: "With a branch: its own server's port instead of the pooler. Branch servers listen on loopback unless the service runs with --db-listen, so this URL works on the server itself.")
    var direct = false

    @Flag(help: ArgumentHelp("The default now; kept so scripts that pass it still work.", visibility: .hidden))
    var pooled = false

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if direct && branch == nil { throw ValidationError("--direct needs a branch: the project's endpoint is the pooler.") }
        if direct && pooled { throw ValidationError("Pass --direct or --pooled, not both.") }
    }

    func run() async throws {
        try await output.report(await Self.connection(project: try project.resolve(), branch: branch, direct: direct)) { connection in
            print(connection.url)
        }
    }

    /// The pooled URL of the project or of one branch; `direct`: the branch's own server.
    static func connection(project: String, branch: String?, direct: Bool = false) async throws -> ConnectionResponse {
        let client = try APIClient.make()
        if let branch {
            return try await client.getBranchConnection(path: .init(project: project, branch: branch), query: .init(pooled: !direct)).ok.body.json
        }
        return try await client.getProjectConnection(path: .init(project: project)).ok.body.json
    }
}

struct PSQL: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "psql", abstract: "Open psql through the pooler: on the project's endpoint, or on one branch.")

    @Argument(help: "A branch (default: the pooled project endpoint).")
    var branch: String?

    @Flag(help: "With a branch: connect to its own server, not the pooler (loopback only unless the service runs with --db-listen).")
    var direct = false

    @OptionGroup var project: ProjectOptions

    @Argument(parsing: .postTerminator, help: "Arguments for psql, after --.")
    var psqlArguments: [String] = []

    func run() async throws {
        try await reportingErrors {
            let connection = try await URLCommand.connection(project: try project.resolve(), branch: branch, direct: direct && branch != nil)
            guard let psql = Self.findOnPath("psql") else {
                throw CLIError(code: "psql_missing", message: "psql is not installed.", hint: "apt-get install postgresql-client")
            }
            // The password goes through the environment, not the command line that `ps` shows.
            setenv("PGPASSWORD", connection.password, 1)
            let conninfo = "host=\(connection.host) port=\(connection.port) user=\(connection.user) dbname=\(connection.database)"
            var cArguments = ([psql, conninfo] + psqlArguments).map { strdup($0) } + [nil]
            execv(psql, &cArguments)
            throw CLIError(code: "psql_failed", message: "Could not run psql: \(String(cString: strerror(errno))).")
        }
    }

    static func findOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
