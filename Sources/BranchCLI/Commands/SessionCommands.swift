import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remember a service URL, a token and the service's certificate (~/.config/branch/config.json, mode 0600).",
        discussion: """
            On an https URL whose certificate no authority this machine trusts vouches for (the \
            service's own self-signed one), its SHA-256 fingerprint is shown and, once accepted, \
            pinned: later commands refuse any other certificate (certificate_changed). Accept it \
            with --fingerprint (compare with the one `branch serve` printed at start), --trust, or \
            by answering the question on a terminal. With BRANCH_CA_FILE set, the certificate must \
            chain to that CA instead and nothing is pinned.
            """)

    @Argument(help: "The service URL, e.g. https://203.0.113.7:8420.")
    var url: String

    @Option(help: "The SHA-256 fingerprint the service's certificate must have (AB:01:… as `branch serve` prints it; colons optional).")
    var fingerprint: String?

    @Flag(help: "Pin whatever certificate the service presents, without asking (only where the network path is trusted).")
    var trust = false

    @Option(help: "A token (`branch token create`; the instance admin's first one is <pool>/admin.key).")
    var token: String?

    @Option(help: "Sign in with this email instead; the password is read from standard input, or asked for.")
    var email: String?

    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let url = ClientConfiguration.normalized(url)
            var token = self.token
            if email != nil, token != nil { throw CLIError(code: "invalid_request", message: "Give --token or --email, not both.") }
            if email == nil, token == nil {
                throw CLIError(code: "invalid_request", message: "Give --token TOKEN or --email EMAIL.", hint: "As root on the server, <pool>/admin.key is the admin's token.")
            }
            // Which certificate to accept is settled before anything (a password, a token) is sent.
            let pin = try await CertificatePinning(url: url, fingerprint: fingerprint, trustPresented: trust, json: output.json).decide()
            var configuration = ClientConfiguration(
                url: url, token: nil, certificate: pin?.certificatePEM, fingerprint: pin?.fingerprint,
                caFile: ProcessInfo.processInfo.environment["BRANCH_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 })
            if let email {
                guard let password = try Secrets.readFromStandardInputIfPiped() ?? Secrets.prompt("Password for \(email): ") else {
                    throw CLIError(code: "invalid_request", message: "No password given.")
                }
                token = try await APIClient.make(configuration).login(body: .json(.init(email: email, password: password))).created.body.json.token
            }
            configuration.token = token
            let me = try await APIClient.make(configuration).whoAmI().ok.body.json
            try configuration.save()
            if output.json {
                try Format.printJSON(me)
            } else {
                let who = me.user.map { "\($0.email)\($0.admin ? " (instance admin)" : "")" } ?? "a project key"
                let scope = me.token?.project.map { " — token scoped to project \($0) as \(me.token?.role?.rawValue ?? "?")" } ?? ""
                print("Logged in to \(configuration.url) as \(who)\(scope). Saved to \(ClientConfiguration.configPath).")
                if let fingerprint = configuration.fingerprint { print("Pinned its certificate, SHA-256 \(fingerprint).") }
            }
        }
    }
}

struct Link: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Link this folder to a project: writes .branch so --project can be left out here and below.")

    @Argument(help: "The project.")
    var project: String

    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let info = try await APIClient.make().getProject(path: .init(project: project)).ok.body.json
            let path = try ProjectLink(project: info.name).write(in: FileManager.default.currentDirectoryPath)
            if output.json {
                try Format.printJSON(info)
            } else {
                print("Linked \(FileManager.default.currentDirectoryPath) to project \(info.name) (\(path)).")
            }
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the service: pool, Postgres, runtime, pooler.")

    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let configuration = ClientConfiguration.load()
            let status = try await APIClient.make(configuration).getStatus().ok.body.json
            if output.json { return try Format.printJSON(status) }
            var table = Table("", "")
            table.headers = ["SERVICE", configuration.url]
            table.add("version", status.version)
            table.add("up since", "\(Format.age(status.startedAt)) ago")
            table.add("pool", "\(status.pool.path) (\(status.pool.mount))")
            table.add("pool space", "\(ByteCount.format(status.pool.freeBytes)) free of \(ByteCount.format(status.pool.totalBytes))")
            addPoolUsage(status.pool, to: &table)
            table.add("sizes", status.pool.quotas ? "per branch (Btrfs simple quotas)" : "unavailable (no Btrfs quotas)")
            table.add("postgres", "\(status.postgres.version) (\(status.postgres.binDirectory))")
            if let installed = status.postgres.installedVersion {
                table.add("", Style.dim("\(installed) is installed: `branch upgrade postgres` restarts branch servers on it"))
            }
            table.add("runtime", status.runtime + (status.runtimeDetails.limitsEnforced ? " (limits enforced)" : " (no isolation, limits not enforced)"))
            table.add("cgroups", status.runtimeDetails.cgroups)
            for note in status.runtimeDetails.notes { table.add("", Style.dim(note)) }
            table.add("pooler", "port \(status.pooler.port), \(Style.status(status.pooler.running ? "running" : "stopped"))")
            table.add("projects", "\(status.projects)")
            table.add("branches", "\(status.branches) (\(status.branchesRunning) running)")
            for (index, item) in (status.mirrors ?? []).enumerated() {
                let mirror = item.mirror
                let state = mirror.problem.map { Style.red("not following: \($0)") }
                    ?? (mirror.following ? "following" : Style.yellow("not applying")) + (mirror.lagBytes.map { ", \(ByteCount.format(UInt64(max(0, $0)))) behind" } ?? "")
                table.add(index == 0 ? "mirrors" : "", "\(item.project) ← \(mirror.source): \(state)")
            }
            print(table.rendered)
            BackupOverview.printStatus(status)
        }
    }

    /// The reserve, what uses the pool, and the largest things that could be deleted.
    private func addPoolUsage(_ pool: Components.Schemas.PoolStatus, to table: inout Table) {
        let below = pool.freeBytes < pool.reserveBytes
        table.add("reserve", "\(ByteCount.format(pool.reserveBytes))" + (below ? Style.red(" (below it: operations that grow the pool are refused)") : ""))
        let usage = pool.usage
        var parts: [String] = []
        if let branches = usage.branches { parts.append("branches \(ByteCount.format(branches))") }
        if let snapshots = usage.snapshots { parts.append("snapshots \(ByteCount.format(snapshots))") }
        if let templates = usage.templates { parts.append("templates \(ByteCount.format(templates))") }
        parts += ["WAL \(ByteCount.format(usage.wal))", "logs \(ByteCount.format(usage.logs))", "work \(ByteCount.format(usage.work))"]
        if let backups = usage.backups { parts.append("backups \(ByteCount.format(backups))" + (usage.backupsOnPool ? "" : " (off the pool)")) }
        table.add("pool use", parts.joined(separator: ", "))
        for (index, item) in usage.largest.prefix(3).enumerated() {
            let what = item.kind == .wal ? "WAL of \(item.project)" : "\(item.kind.rawValue) \(item.name ?? "") of \(item.project)"
            table.add(index == 0 ? "largest" : "", "\(what): \(ByteCount.format(item.bytes))  " + Style.dim(item.command))
        }
    }
}

struct Operations: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the operations journal, newest first.")

    @Option(name: [.short, .long], help: "Only this project's operations.")
    var project: String?

    @Option(help: "How many.")
    var limit = 20

    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(await APIClient.make().listOperations(query: .init(project: project, limit: limit)).ok.body.json) { list in
            var table = Table("ID", "OPERATION", "PROJECT", "TARGET", "STATE", "TOOK", "AGE", "NOTE")
            for operation in list.operations {
                table.add(
                    operation.id, operation.kind, operation.project ?? "-", operation.target ?? "-", Style.status(operation.state),
                    operation.durationMs.map { Format.duration(ms: $0) } ?? "-", Format.age(operation.startedAt),
                    operation.errorMessage ?? operation.recovery ?? "")
            }
            print(table.rendered)
        }
    }
}

struct OpenAPI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openapi", abstract: "Print the API's OpenAPI document (what docs/openapi.json holds).")

    func run() async throws {
        // The document this CLI's client was generated from, embedded at build time.
        print(APIDocument.text, terminator: "")
    }
}
