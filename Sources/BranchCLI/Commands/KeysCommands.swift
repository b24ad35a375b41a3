import ArgumentParser
import BranchAPI
import Foundation

/// `branch keys`: the project's data API URL and its anon and service_role keys; `keys rotate`
/// replaces them all, `keys revoke` one of them.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Print the project's data API URL and its anon and service_role keys, or rotate or revoke them.",
        subcommands: [Show.self, Rotate.self, Revoke.self], defaultSubcommand: Show.self)

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the project's data API URL and its anon and service_role keys (the default).")

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let name = try project.resolve()
                let keys = DataAPIKeys(try await APIClient.make().getProjectKeys(path: .init(project: name)).ok.body.json)
                if output.json { return try Format.printJSON(keys) }
                keys.printTable()
                print(Style.dim("The service_role key bypasses row-level security: keep it on servers. `branch env` prints them as .env lines."))
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give the project a new JWT secret: its old keys, and every token signed with the old secret, stop working at once.")

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let name = try project.resolve()
                let rotated = try await APIClient.make().rotateProjectKeys(path: .init(project: name)).ok.body.json
                let keys = DataAPIKeys(rotated.keys)
                if output.json { return try Format.printJSON(Rotated(keys: keys, operation: rotated.operation)) }
                print("\(Style.green("✓")) New JWT secret for \(Style.bold(name)) \(Format.timing(rotated.operation)). The old keys and tokens no longer work.")
                keys.printTable()
            }
        }

        /// What `--json` prints.
        struct Rotated: Encodable {
            var keys: DataAPIKeys
            var operation: OperationTiming
        }
    }
}

extension KeysCommand {
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke one key: it stops working at once and a new one is issued. The other key and users' sessions keep working.")

        enum Role: String, ExpressibleByArgument, CaseIterable {
            case anon
            case serviceRole = "service_role"
        }

        @Argument(help: "The key to revoke: anon or service_role.")
        var role: Role
        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let name = try project.resolve()
                let revoked = try await APIClient.make().revokeProjectKey(
                    path: .init(project: name), body: .json(.init(role: role == .anon ? .anon : .serviceRole))).ok.body.json
                let keys = DataAPIKeys(revoked.keys)
                if output.json { return try Format.printJSON(Rotate.Rotated(keys: keys, operation: revoked.operation)) }
                print("\(Style.green("✓")) Revoked the \(role.rawValue) key of \(Style.bold(name)) \(Format.timing(revoked.operation)). It no longer works; the new one:")
                keys.printTable()
            }
        }
    }
}

/// What an app needs to reach a project with a Supabase client library: the data API's base URL
/// (the service's address, as this CLI reaches it, followed by the path the service gives) and the
/// two keys. The service cannot know the address its clients use (a proxy, a tunnel, TLS).
struct DataAPIKeys: Encodable {
    var url: String
    var anonKey: String
    var serviceRoleKey: String

    init(_ keys: Components.Schemas.ProjectKeys, configuration: ClientConfiguration = .load()) {
        url = configuration.url + keys.path
        anonKey = keys.anonKey
        serviceRoleKey = keys.serviceRoleKey
    }

    func printTable() {
        var table = Table("URL", url)
        table.add("anon key", anonKey)
        table.add("service_role key", serviceRoleKey)
        print(table.rendered)
    }
}

/// `branch env`: the lines an app's `.env` needs to reach the project, or one branch, with
/// Postgres and with a Supabase client library.
struct EnvCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "env",
        abstract: "Print DATABASE_URL, SUPABASE_URL, SUPABASE_ANON_KEY and SUPABASE_SERVICE_ROLE_KEY for an app's .env.",
        discussion: """
            Without a branch: the project's pooled endpoint and data API, which follow `branch checkout`. \
            With one: that branch's pooled Postgres URL (as `branch url BRANCH` prints it) and data API (/p/PROJECT/b/BRANCH).
            """)

    @Argument(help: "A branch for its own URLs (default: the project's, which follow `branch checkout`).")
    var branch: String?

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let name = try project.resolve()
            let connection = try await URLCommand.connection(project: name, branch: branch)
            let keys = DataAPIKeys(try await APIClient.make().getProjectKeys(path: .init(project: name)).ok.body.json)
            let variables = Self.variables(databaseURL: connection.url, keys: keys, branch: branch)
            if output.json { return try Format.printJSON(Dictionary(uniqueKeysWithValues: variables.map { ($0.name, $0.value) })) }
            for variable in variables { print("\(variable.name)=\(variable.value)") }
        }
    }

    /// The four variables, in the order an .env file lists them.
    static func variables(databaseURL: String, keys: DataAPIKeys, branch: String?) -> [(name: String, value: String)] {
        [
            ("DATABASE_URL", databaseURL),
            ("SUPABASE_URL", keys.url + (branch.map { "/b/\($0)" } ?? "")),
            ("SUPABASE_ANON_KEY", keys.anonKey),
            ("SUPABASE_SERVICE_ROLE_KEY", keys.serviceRoleKey),
        ]
    }
}
