import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

/// `branch user`: the people who sign in (the instance admin manages them).
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage users: create, list, delete, change a password.",
        subcommands: [Create.self, List.self, Delete.self, Passwd.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a user. The password is read from standard input when it is not a terminal; else one is generated and printed once.")

        @Argument(help: "The user's email.") var email: String
        @Flag(help: "Make them an instance admin (may do everything).") var admin = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let password = try Secrets.readFromStandardInputIfPiped()
                let created = try await APIClient.make().createUser(body: .json(.init(admin: admin ? true : nil, email: email, password: password)))
                    .created.body.json
                if output.json { return try Format.printJSON(created) }
                print("\(Style.green("✓")) User \(Style.bold(created.user.email))\(created.user.admin ? " (instance admin)" : "") created.")
                if let generated = created.password {
                    print("  password \(generated)")
                    print(Style.dim("  (shown once; they change it with `branch user passwd \(created.user.email)`)"))
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every user with their project roles.")
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(try await APIClient.make().listUsers().ok.body.json) { list in
                var table = Table("EMAIL", "ADMIN", "PROJECTS", "CREATED")
                for user in list.users {
                    table.add(
                        user.email, user.admin ? "yes" : "-", user.projects.map { "\($0.project):\($0.role.rawValue)" }.joined(separator: ", "),
                        Format.age(user.createdAt))
                }
                print(table.rendered)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user with their roles and tokens.")
        @Argument(help: "The user's email.") var email: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(try await APIClient.make().deleteUser(path: .init(email: email)).ok.body.json) { user in
                print("\(Style.green("✓")) Deleted \(user.email); their tokens no longer work.")
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a password (yours, or anyone's as the instance admin), read from standard input.")
        @Argument(help: "The user's email.") var email: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                guard let password = try Secrets.readFromStandardInputIfPiped() ?? Secrets.prompt("New password for \(email): ") else {
                    throw CLIError(code: "invalid_request", message: "No password given.", hint: "Pipe it: `echo … | branch user passwd EMAIL`.")
                }
                let user = try await APIClient.make().setPassword(path: .init(email: email), body: .json(.init(password: password))).ok.body.json
                if output.json { return try Format.printJSON(user) }
                print("\(Style.green("✓")) Password of \(user.email) changed.")
            }
        }
    }
}

/// `branch member`: who may do what in a project.
struct MemberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "member", abstract: "Give users a role in a project (owner, developer, viewer), list or remove them.",
        subcommands: [Add.self, List.self, Remove.self], defaultSubcommand: List.self)

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give a user a role in the project, or change it.")
        @Argument(help: "The user's email.") var email: String
        @Option(help: "owner (everything in the project), developer (branches, migrations, data) or viewer (read only).") var role: String
        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                guard let role = Components.Schemas.MemberRequest.RolePayload(rawValue: role) else {
                    throw CLIError(code: "invalid_request", message: "The role '\(self.role)' is not owner, developer or viewer.")
                }
                let name = try project.resolve()
                let list = try await APIClient.make().setMember(path: .init(project: name, email: email), body: .json(.init(role: role)))
                    .ok.body.json
                if output.json { return try Format.printJSON(list) }
                print("\(Style.green("✓")) \(email) is \(role.rawValue) of \(name).")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The project's members and their roles.")
        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let name = try project.resolve()
            try await output.report(try await APIClient.make().listMembers(path: .init(project: name)).ok.body.json) { list in
                var table = Table("EMAIL", "ROLE")
                for member in list.members { table.add(member.email, member.role.rawValue) }
                print(list.members.isEmpty ? "No members besides the instance admins." : table.rendered)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a user's role in the project away.")
        @Argument(help: "The user's email.") var email: String
        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let name = try project.resolve()
            try await output.report(try await APIClient.make().removeMember(path: .init(project: name, email: email)).ok.body.json) { _ in
                print("\(Style.green("✓")) \(email) has no role in \(name) any more.")
            }
        }
    }
}

/// `branch token`: management tokens of the signed-in user.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Make, list and revoke your management tokens.", subcommands: [Create.self, List.self, Revoke.self],
        defaultSubcommand: List.self)

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a token, shown once: for everything you may do, or one project with a role (--project P --role R).")
        @Option(help: "A name to recognise it by.") var name: String?
        @Option(name: [.short, .long], help: "Scope it to this project.") var project: String?
        @Option(help: "With --project: owner, developer or viewer (at most your own role there).") var role: String?
        @Option(help: "Lifetime, e.g. 30d, 12h, 90m (default: no expiry).") var expires: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let role = try role.map { raw in
                    guard let role = Components.Schemas.CreateTokenRequest.RolePayload(rawValue: raw) else {
                        throw CLIError(code: "invalid_request", message: "The role '\(raw)' is not owner, developer or viewer.")
                    }
                    return role
                }
                let seconds = try expires.map { try Lifetime.required($0, option: "--expires") }
                let created = try await APIClient.make().createToken(body: .json(.init(
                    expiresInSeconds: seconds, name: name, project: project, role: role))).created.body.json
                if output.json { return try Format.printJSON(["token": created.token]) }
                print(created.token)
                let scope = created.info.project.map { "project \($0) as \(created.info.role?.rawValue ?? "?")" } ?? "everything you may do"
                FileHandle.standardError.write(Data(
                    "Token \(created.info.id) for \(scope)\(created.info.expiresAt.map { ", expires \($0)" } ?? ""): shown once, keep it safe.\n".utf8))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Your tokens (the instance admin: everyone's), never their text.")
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(try await APIClient.make().listTokens().ok.body.json) { list in
                var table = Table("ID", "NAME", "USER", "SCOPE", "EXPIRES", "LAST USED", "STATE")
                for token in list.tokens {
                    table.add(
                        token.id, token.name, token.user, token.project.map { "\($0):\(token.role?.rawValue ?? "?")" } ?? "instance",
                        token.expiresAt.map { Format.age($0) } ?? "never", token.lastUsedAt.map { Format.age($0) } ?? "-",
                        token.revoked ? "revoked" : "active")
                }
                print(table.rendered)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: it stops working at once.")
        @Argument(help: "The token's id (tk_…).") var id: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(try await APIClient.make().revokeToken(path: .init(token: id)).ok.body.json) { token in
                print("\(Style.green("✓")) Token \(token.id) (\(token.name)) revoked.")
            }
        }
    }
}

/// `branch audit`: the log of every change.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Every change made through the API, and every export of a whole database: who, what, on which project, from where, when, how it ended.")

    @Option(name: [.short, .long], help: "Only this project's entries (its owners may read them).") var project: String?
    @Option(help: "Only entries since this instant (ISO 8601, e.g. 2026-12-05T12:00:00Z).") var since: String?
    @Option(help: "At most this many of the newest entries.") var limit: Int = 1000
    @Flag(name: .customLong("jsonl"), help: "Print JSON Lines, one entry per line (for export).") var jsonLines = false
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await reportingErrors(json: output.json) {
            let instant = try since.map { text in
                guard let date = try? Date(text, strategy: .iso8601) else {
                    throw CLIError(code: "invalid_request", message: "'\(text)' is not an ISO 8601 instant.", hint: "e.g. 2026-12-05T12:00:00Z")
                }
                return date
            }
            let list = try await APIClient.make().listAudit(query: .init(project: project, since: instant, limit: limit)).ok.body.json
            if output.json { return try Format.printJSON(list) }
            if jsonLines {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                encoder.dateEncodingStrategy = .iso8601
                for entry in list.entries { print(String(decoding: try encoder.encode(entry), as: UTF8.self)) }
                return
            }
            var table = Table("AT", "WHO", "ACTION", "PROJECT", "FROM", "OUTCOME")
            for entry in list.entries {
                table.add(
                    entry.at.formatted(.iso8601), entry.actor, entry.action, entry.project ?? "-", entry.address ?? "-",
                    entry.outcome == "ok" ? Style.green("ok") : Style.red("\(entry.status) \(entry.outcome)"))
            }
            print(table.rendered)
        }
    }
}

/// Secrets the CLI reads: from standard input when it is piped (scripts), else from the terminal.
enum Secrets {
    static func readFromStandardInputIfPiped() throws -> String? {
        guard isatty(STDIN_FILENO) == 0 else { return nil }
        let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let trimmed = text.trimmingCharacters(in: .newlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// The SMTP password piped for `--smtp-password-stdin`; `command` shows how in the error (`branch alerts set …`).
    static func pipedSMTPPassword(command: String) throws -> String {
        guard let piped = try readFromStandardInputIfPiped() else {
            throw CLIError(
                code: "invalid_request", message: "No password on standard input.",
                hint: "Pipe it: `printf %s \"$PASSWORD\" | \(command) --smtp-password-stdin`.")
        }
        return piped
    }

    /// The text of `--smtp-ca-file`.
    static func pemFile(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CLIError(code: "invalid_request", message: "Could not read \(path).", hint: "Give a PEM file of certificates.")
        }
        return text
    }

    static func prompt(_ label: String) -> String? {
        guard let line = getpass(label) else { return nil }
        let text = String(cString: line)
        return text.isEmpty ? nil : text
    }
}

/// Lifetimes like `30d`, `12h`, `90m`, `45s`.
enum Lifetime {
    static func seconds(_ text: String) -> Int? {
        guard let unit = text.last, let number = Int(text.dropLast()), number > 0 else { return nil }
        switch unit {
        case "d": return number * 86_400
        case "h": return number * 3600
        case "m": return number * 60
        case "s": return number
        default: return nil
        }
    }

    /// `seconds`, or an error naming `option`.
    static func required(_ text: String, option: String) throws -> Int {
        guard let seconds = seconds(text) else {
            throw CLIError(code: "invalid_request", message: "\(option): '\(text)' is not a duration.", hint: "Write it like 90m, 12h or 7d.")
        }
        return seconds
    }

    /// `required`, or 0 for `never` (kept until deleted, whatever a default says).
    static func requiredOrNever(_ text: String, option: String) throws -> Int {
        text.lowercased() == "never" ? 0 : try required(text, option: option)
    }
}
