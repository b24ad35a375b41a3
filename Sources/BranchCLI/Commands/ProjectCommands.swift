import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project", abstract: "Create, list, show, configure and delete projects.",
        subcommands: [Create.self, Import.self, List.self, Show.self, Set.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a project: a Postgres cluster with an owner role and a main branch.")

        @Argument(help: "Name: lowercase letters, digits and '-', up to 63 characters.")
        var name: String

        @Flag(help: "No daily backup schedule (every project gets one by default; `branch schedule set backup` adds one later).")
        var noBackups = false

        @OptionGroup var settings: SettingsOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(
                await APIClient.make().createProject(
                    body: .json(.init(backups: !noBackups, name: name, settings: try settings.parsed()))
                ).created.body.json
            ) { created in
                let keys = DataAPIKeys(created.keys)
                print("\(Style.green("✓")) Created project \(Style.bold(created.project.name)) \(Format.timing(created.operation)).")
                print("  Postgres \(created.project.postgresMajor), role and database '\(created.project.role)', branch main running.")
                print("  Connection (pooled, follows `branch checkout`):")
                print("    \(created.connection.url)")
                print("  Data API (Supabase clients):")
                print("    URL               \(keys.url)")
                print("    anon key          \(keys.anonKey)")
                print("    service_role key  \(keys.serviceRoleKey)")
                print("Next: `branch link \(created.project.name)` in your app's folder, then `branch create my-feature`; `branch env` prints the .env lines.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List projects.")

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().listProjects().ok.body.json) { list in
                if list.projects.isEmpty {
                    print("No projects yet. Create one with `branch project create NAME`.")
                    return
                }
                var table = Table("PROJECT", "PG", "CHECKED OUT", "BRANCHES", "SNAPSHOTS", "SIZE", "AGE")
                for project in list.projects {
                    table.add(
                        project.name, "\(project.postgresMajor)", project.checkedOut, "\(project.branches)", "\(project.snapshots)",
                        Format.bytes(project.exclusiveBytes), Format.age(project.createdAt))
                }
                print(table.rendered)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one project.")

        @Argument(help: "The project (default: the linked one).")
        var name: String?

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let name = try resolveProject(self.name)
                let project = try await APIClient.make().getProject(path: .init(project: name)).ok.body.json
                if output.json { return try Format.printJSON(project) }
                var table = Table("PROJECT", project.name)
                table.add("postgres", "\(project.postgresMajor)")
                table.add("role / database", "\(project.role) / \(project.database)")
                table.add("checked out", project.checkedOut)
                table.add("branches", "\(project.branches)")
                table.add("snapshots", "\(project.snapshots)")
                table.add("size on disk", Format.bytes(project.exclusiveBytes))
                table.add("memory limit", project.memoryBytes.map(ByteCount.format) ?? "none")
                table.add("cpu limit", project.cpus.map { "\($0) CPU" } ?? "none")
                table.add("max connections", project.maxConnections.map(String.init) ?? "default (100)")
                table.add("history kept", "\(project.retentionDays) days; earliest restorable point: " + (project.earliestRestorableAt.map { ISO8601DateFormatter().string(from: $0) } ?? "none yet"))
                table.add("suspend when idle", "\(Seconds.format(project.suspendAfterSeconds)) (main: \(Seconds.format(project.suspendMainAfterSeconds)))")
                table.add("new branches", project.branchDefaultsText)
                table.add("pooled endpoint", "\(project.poolerHost):\(project.poolerPort)/\(project.name)  (`branch url` prints the URL)")
                let allowlist = project.allowlist ?? []
                table.add("allowed from", allowlist.isEmpty ? "every address" : allowlist.joined(separator: ", "))
                table.add("backups", project.backupSchedule.map { "scheduled `\($0)` (UTC)" } ?? "no backup schedule")
                table.add("last verified restore", BackupOverview.verification(project.lastVerification))
                table.add("created", "\(Format.age(project.createdAt)) ago")
                if let mirror = project.mirror {
                    let lag = mirror.lagBytes.map { Format.bytes($0) + " behind" } ?? "lag unknown"
                    table.add("mirror of", "\(mirror.source) (publication \(mirror.publication))")
                    table.add("mirror state", (mirror.following ? "following, " : "not following, ") + lag
                        + (mirror.lastMessageSecondsAgo.map { String(format: ", heard %.0f s ago", $0) } ?? ""))
                    if let problem = mirror.problem { table.add("mirror problem", problem) }
                    for change in mirror.pendingChanges { table.add("schema change to apply", change) }
                }
                print(table.rendered)
                if allowlist.isEmpty {
                    print(Style.yellow("warning:") + " open to every address: anyone with its credentials can reach it from anywhere. Restrict it with `branch project set \(project.name) --allow CIDR[,CIDR…]`.")
                }
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a project's limits, scale-to-zero settings, allowlist and branch defaults (memory and CPU apply at once; max connections restarts its running branches).")

        @Argument(help: "The project (default: the linked one).")
        var name: String?

        @OptionGroup var settings: SettingsOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let settings = try self.settings.parsed()
                guard let settings else {
                    throw CLIError(code: "invalid_request", message: "Nothing to change.", hint: "Pass --memory, --cpus, --max-connections, --suspend-after, --suspend-main-after, --retention, --allow, --new-branch-ttl or --[no-]protect-new-branches.")
                }
                let name = try resolveProject(self.name)
                let updated = try await APIClient.make().updateProject(path: .init(project: name), body: .json(settings)).ok.body.json
                if output.json { return try Format.printJSON(updated) }
                print("\(Style.green("✓")) Updated \(name) \(Format.timing(updated.operation)).")
                if !updated.restarted.isEmpty { print("  Restarted to apply max connections: \(updated.restarted.joined(separator: ", ")).") }
                if let allowlist = settings.allowlist {
                    let entries = updated.project.allowlist ?? []
                    print(allowlist.isEmpty || entries.isEmpty
                        ? "  Allowlist cleared: open to every address."
                        : "  Allowed from: \(entries.joined(separator: ", ")) (pooler, branch servers and HTTP APIs).")
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a project and all its data.")

        @Argument(help: "The project.")
        var name: String

        @Flag(help: "Also when it has branches besides main.")
        var force = false

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().deleteProject(path: .init(project: name), query: .init(force: force)).ok.body.json) { result in
                print("\(Style.green("✓")) Deleted project \(name) \(Format.timing(result.operation)).")
            }
        }
    }
}

/// Limit, scale-to-zero, allowlist and branch-default options shared by `project create` and `project set`.
struct SettingsOptions: ParsableArguments {
    @Option(help: "Memory limit of each branch server, e.g. 512M or 2G (none: no limit).")
    var memory: String?

    @Option(help: "CPU limit of each branch server, e.g. 0.5 or 2 (0: no limit).")
    var cpus: Double?

    @Option(help: "Postgres max_connections of each branch server (0: the default, 100).")
    var maxConnections: Int?

    @Option(help: "Suspend branches other than main after this long without clients, e.g. 15m, 1h, off, or default (the service's).")
    var suspendAfter: String?

    @Option(help: "Suspend main after this long without clients (default off).")
    var suspendMainAfter: String?

    @Option(help: "How far back point-in-time branches can go, e.g. 7d or 30d (default 7d).")
    var retention: String?
    @Option(help: "Branch defaults: delete new branches after this long (90m, 12h, 7d, up to a year) unless created with --ttl; never removes the default.")
    var newBranchTtl: String?

    @Flag(inversion: .prefixedNo, help: "Branch defaults: new branches start protected (from deletion and reset) unless created with --no-protect.")
    var protectNewBranches: Bool?

    @Option(help: "The only networks the project's clients may come from, as CIDR[,CIDR…] (e.g. 203.0.113.0/24,2001:db8::/32); enforced by the pooler, every branch server and the HTTP APIs. '' opens it to every address again.")
    var allow: String?

    /// The settings given, or nil when none was.
    func parsed() throws -> ProjectSettings? {
        var settings = ProjectSettings()
        if let memory {
            guard let bytes = ["none", "0", "off"].contains(memory.lowercased()) ? 0 : ByteCount.parse(memory) else {
                throw CLIError(code: "invalid_request", message: "--memory: '\(memory)' is not a size.", hint: "Use e.g. 512M or 2G, or none.")
            }
            settings.memoryBytes = Int(clamping: bytes)
        }
        settings.cpus = cpus
        settings.maxConnections = maxConnections
        if let retention {
            guard let seconds = Seconds.parse(retention), seconds % 86400 == 0 else {
                throw CLIError(code: "invalid_request", message: "--retention: '\(retention)' is not a number of days.", hint: "Use e.g. 7d or 30d.")
            }
            settings.retentionDays = seconds / 86400
        }
        for (flag, value, keyPath) in [("--suspend-after", suspendAfter, \ProjectSettings.suspendAfterSeconds), ("--suspend-main-after", suspendMainAfter, \ProjectSettings.suspendMainAfterSeconds)] {
            guard let value else { continue }
            if value.lowercased() == "default" {
                settings[keyPath: keyPath] = -1
                continue
            }
            guard let seconds = Seconds.parse(value) else {
                throw CLIError(code: "invalid_request", message: "\(flag): '\(value)' is not a duration.", hint: "Use e.g. 90s, 15m, 2h or off.")
            }
            settings[keyPath: keyPath] = seconds
        }
        settings.newBranchTtlSeconds = try newBranchTtl.map { try Lifetime.requiredOrNever($0, option: "--new-branch-ttl") }
        settings.protectNewBranches = protectNewBranches
        if let allow {
            // Checked by the service (`invalid_cidr`); '' is the empty list.
            settings.allowlist = allow.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return settings == ProjectSettings() ? nil : settings
    }
}
