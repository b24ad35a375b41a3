import ArgumentParser
import BranchAPI
import Foundation

/// `branch alerts`: where the instance's and each project's alerts go (webhook, Slack, e-mail).
struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Show, set, remove and test where alerts go: a webhook, Slack, e-mail (the instance's, or a project's with --project).",
        subcommands: [Show.self, Set.self, Remove.self, Test.self], defaultSubcommand: Show.self)

    /// Alerts have two scopes: `--project` names one; without it, the instance's (no folder link).
    struct ScopeOptions: ParsableArguments {
        @Option(name: [.short, .long], help: "The project whose alerts these are (its owner's); without it, the instance's (the instance admin's).")
        var project: String?

        var label: String { project.map { "project \($0)" } ?? "the instance" }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the alert channels (secrets redacted) and, for a project, its size-jump threshold.")

        @OptionGroup var scope: ScopeOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().getAlerts(query: .init(project: scope.project)).ok.body.json) { settings in
                AlertsCommand.print(settings, scope: scope)
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set an alert channel (replacing the one of the same kind), or a project's size-jump threshold.",
            discussion: """
                One channel per command: --webhook URL (a JSON document per alert), --slack URL (Slack's incoming \
                webhook), or --email TO --smtp smtp://USER@HOST:587 (STARTTLS, required) or smtps://USER@HOST:465 \
                (TLS), the password piped with --smtp-password-stdin. URLs and passwords are stored sealed and shown \
                redacted from then on.
                """)

        @OptionGroup var scope: ScopeOptions
        @Option(help: "POST a JSON document to this URL for each alert.") var webhook: String?
        @Option(help: "Post to this Slack incoming-webhook URL.") var slack: String?
        @Option(help: "Send e-mail to these addresses (comma-separated); with --smtp.") var email: String?
        @Option(help: "The SMTP server: smtp://USER@HOST:PORT (STARTTLS) or smtps://USER@HOST:PORT (TLS).") var smtp: String?
        @Flag(help: "Read the SMTP password from standard input.") var smtpPasswordStdin = false
        @Option(help: "The sender address (default: the SMTP user when it is an address).") var from: String?
        @Option(help: "PEM file of certificates to trust for the SMTP server instead of the system's (a private relay).") var smtpCaFile: String?
        @Flag(help: "Deliver success events too (a backup or verification that worked).") var includeSuccess = false
        @Option(help: "Projects: alert when a database grew by more than this share since its last backup (e.g. 50%; 'default' resets).")
        var sizeJump: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let client = try APIClient.make()
                let channel = try channelRequest()
                if channel == nil, sizeJump == nil {
                    throw CLIError(
                        code: "invalid_request", message: "Nothing to set.",
                        hint: "Give --webhook URL, --slack URL, or --email TO --smtp URL (or --size-jump N% with --project).")
                }
                var set: Components.Schemas.AlertChannelInfo?
                if let (kind, body) = channel {
                    set = try await client.setAlertChannel(path: .init(kind: kind), query: .init(project: scope.project), body: .json(body)).ok.body.json
                }
                var settings: Components.Schemas.AlertSettings?
                if let sizeJump {
                    let percent: Int?
                    if sizeJump == "default" {
                        percent = nil
                    } else if let value = Int(sizeJump.hasSuffix("%") ? String(sizeJump.dropLast()) : sizeJump) {
                        percent = value
                    } else {
                        throw CLIError(code: "invalid_request", message: "'\(sizeJump)' is not a percentage.", hint: "For example: --size-jump 50%.")
                    }
                    settings = try await client.setAlertSettings(query: .init(project: scope.project), body: .json(.init(sizeJumpPercent: percent))).ok.body.json
                }
                if output.json {
                    if let set { return try Format.printJSON(set) }
                    if let settings { return try Format.printJSON(settings) }
                }
                if let set {
                    Swift.print("\(Style.green("✓")) Alerts of \(scope.label) go to \(set.kind.rawValue): \(set.target)\(set.includeSuccess ? " (successes too)" : "").")
                    Swift.print("  Check it with `branch alerts test\(scope.project.map { " --project \($0)" } ?? "")`.")
                }
                if let settings, let percent = settings.sizeJumpPercent {
                    Swift.print("\(Style.green("✓")) A database that grows more than \(percent)% since its last backup alerts\(settings.sizeJumpIsDefault ? " (the default)" : "").")
                }
            }
        }

        /// The channel asked for, if any (one kind per command).
        private func channelRequest() throws -> (BranchAPI.Operations.SetAlertChannel.Input.Path.KindPayload, Components.Schemas.AlertChannelRequest)? {
            let given = [webhook != nil, slack != nil, email != nil].filter { $0 }.count
            guard given <= 1 else {
                throw CLIError(code: "invalid_request", message: "Set one channel at a time: --webhook, --slack or --email.")
            }
            if let webhook { return (.webhook, .init(includeSuccess: includeSuccess, url: webhook)) }
            if let slack { return (.slack, .init(includeSuccess: includeSuccess, url: slack)) }
            guard let email else {
                if smtp != nil || smtpPasswordStdin || from != nil || smtpCaFile != nil {
                    throw CLIError(code: "invalid_request", message: "--smtp, --smtp-password-stdin, --from and --smtp-ca-file go with --email.")
                }
                return nil
            }
            let password = smtpPasswordStdin ? try Secrets.pipedSMTPPassword(command: "branch alerts set …") : nil
            let trust = try smtpCaFile.map(Secrets.pemFile)
            let recipients = email.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return (.email, .init(from: from, includeSuccess: includeSuccess, smtp: smtp, smtpPassword: password, smtpTrust: trust, to: recipients))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an alert channel (--webhook, --slack, --email), or all of the scope's without one.")

        @OptionGroup var scope: ScopeOptions
        @Flag(help: "The webhook channel.") var webhook = false
        @Flag(help: "The Slack channel.") var slack = false
        @Flag(help: "The e-mail channel.") var email = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let chosen: [(Bool, BranchAPI.Operations.RemoveAlertChannel.Input.Path.KindPayload)] = [(webhook, .webhook), (slack, .slack), (email, .email)]
                let kinds = chosen.filter { $0.0 }.map { $0.1 }
                let client = try APIClient.make()
                var settings: Components.Schemas.AlertSettings?
                for kind in kinds.isEmpty ? [BranchAPI.Operations.RemoveAlertChannel.Input.Path.KindPayload.all] : kinds {
                    settings = try await client.removeAlertChannel(path: .init(kind: kind), query: .init(project: scope.project)).ok.body.json
                }
                guard let settings else { return }
                if output.json { return try Format.printJSON(settings) }
                Swift.print("\(Style.green("✓")) Removed \(kinds.isEmpty ? "every alert channel" : kinds.map(\.rawValue).joined(separator: ", ")) of \(scope.label).")
                AlertsCommand.print(settings, scope: scope)
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a test message through every alert channel of the scope and say how each went (exits 1 if one failed).")

        @OptionGroup var scope: ScopeOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            var failed = false
            try await reportingErrors(json: output.json) {
                let report = try await APIClient.make().testAlerts(query: .init(project: scope.project)).ok.body.json
                failed = report.results.contains { !$0.delivered }
                if output.json { return try Format.printJSON(report) }
                for result in report.results {
                    let mark = result.delivered ? Style.green("✓") : Style.red("✗")
                    let outcome = result.delivered ? "delivered" : "failed: \(result.error ?? "unknown error")"
                    Swift.print("\(mark) \(result.channel.kind.rawValue) \(result.channel.target): \(outcome) (\(result.milliseconds) ms)")
                }
            }
            if failed { throw ExitCode.failure }
        }
    }

    static func print(_ settings: Components.Schemas.AlertSettings, scope: ScopeOptions) {
        if settings.channels.isEmpty {
            Swift.print("No alert channels for \(scope.label). Add one with `branch alerts set\(scope.project.map { " --project \($0)" } ?? "") --webhook URL` (or --slack, --email).")
        } else {
            var table = Table("KIND", "TARGET", "SUCCESSES", "SINCE")
            for channel in settings.channels {
                table.add(channel.kind.rawValue, channel.target, channel.includeSuccess ? "yes" : "no", Format.age(channel.createdAt))
            }
            Swift.print(table.rendered)
        }
        if let percent = settings.sizeJumpPercent {
            Swift.print("Size jump: alert when a database grows more than \(percent)% since its last backup\(settings.sizeJumpIsDefault ? " (default)" : "").")
        }
    }
}
