import ArgumentParser
import BranchAPI
import Foundation

/// `branch auth`: a project's data API auth settings (sign-ups, email confirmation, mailed links, SMTP).
struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth",
        abstract: "Show and change how a project's data API signs users up and mails them (confirmations, magic links, password resets, invitations).",
        subcommands: [Show.self, Set.self, TestMail.self, AuthProviderCommand.self], defaultSubcommand: Show.self)

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the project's auth settings (the SMTP password never).")

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let name = try project.resolve()
                let settings = try await APIClient.make().getAuthSettings(path: .init(project: name)).ok.body.json
                if output.json { return try Format.printJSON(settings) }
                AuthCommand.print(settings)
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the project's auth settings; what you leave out stays as it is.",
            discussion: """
                Mail goes through your SMTP server: --smtp smtp://USER@HOST:587 (STARTTLS) or smtps://USER@HOST:465 (TLS), \
                the password piped with --smtp-password-stdin, and --sender. Links in the mail lead to --site-url, or to a \
                redirect the app asks for when it matches --redirect-url (repeat it; globs: * within a host label or path \
                segment, ** across). Turning on --confirm-email needs the SMTP server first. `--smtp ""` removes it.
                """)

        @OptionGroup var project: ProjectOptions
        @Option(help: "Let new users sign up: on or off.") var signup: Toggle?
        @Option(help: "New users confirm their email before signing in: on or off.") var confirmEmail: Toggle?
        @Option(help: "Where mailed links lead by default (your app's URL).") var siteUrl: String?
        @Option(help: "Another URL (or glob) links may lead to; repeat it. Replaces the list.") var redirectUrl: [String] = []
        @Flag(help: "Empty the redirect list.") var clearRedirectUrls = false
        @Option(help: "How long mailed links and codes work, in seconds (60 to 86400).") var otpExpiry: Int?
        @Option(help: "The SMTP server: smtp://USER@HOST:PORT (STARTTLS) or smtps://USER@HOST:PORT (TLS); \"\" removes it.") var smtp: String?
        @Flag(help: "Read the SMTP password from standard input.") var smtpPasswordStdin = false
        @Option(help: "PEM file of certificates to trust for the SMTP server instead of the system's.") var smtpCaFile: String?
        @Option(help: "The From address of auth mail.") var sender: String?
        @Option(help: "Where browsers reach this service (https://db.example.com), for links in auth mail; \"\" goes back to the service's own address.")
        var apiUrl: String?
        @Option(help: "At most this many auth mails an hour for the project (default 30).") var mailsPerHour: Int?
        @Option(
            help: ArgumentHelp(
                "KIND=FILE: the body of one kind of mail (confirmation, invite, magic_link, recovery, email_change) from a file; repeat it.",
                discussion: "Variables: {{ .ConfirmationURL }}, {{ .Token }}, {{ .TokenHash }}, {{ .SiteURL }}, {{ .Email }}, {{ .RedirectTo }}, {{ .NewEmail }} (email_change). A body starting with a tag is sent as HTML."))
        var template: [String] = []
        @Option(help: "KIND=TEXT: the subject of one kind of mail; repeat it.") var subject: [String] = []
        @Option(help: "KIND: back to the default wording of one kind of mail; repeat it.") var resetTemplate: [String] = []
        @Option(help: "A changed email is confirmed at the current address too (on, the default) or at the new one only (off).")
        var secureEmailChange: Toggle?
        @OptionGroup var output: OutputOptions

        enum Toggle: String, ExpressibleByArgument, CaseIterable {
            case on, off
            var value: Bool { self == .on }
        }

        /// The kinds of mail this call rewords, merged with the stored wording; nil when it names none.
        func templateChanges(project: String, client: Client) async throws -> [Components.Schemas.MailTemplate]? {
            guard !(template.isEmpty && subject.isEmpty && resetTemplate.isEmpty) else { return nil }
            let stored = try await client.getAuthSettings(path: .init(project: project)).ok.body.json.templates
            return try AuthCommand.mergedTemplates(stored: stored, bodies: template, subjects: subject, resets: resetTemplate)
        }

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let name = try project.resolve()
                let password = smtpPasswordStdin ? try Secrets.pipedSMTPPassword(command: "branch auth set --smtp …") : nil
                let trust = try smtpCaFile.map(Secrets.pemFile)
                let redirects: [String]? = clearRedirectUrls ? [] : (redirectUrl.isEmpty ? nil : redirectUrl)
                let client = try APIClient.make()
                let templates = try await templateChanges(project: name, client: client)
                let body = Components.Schemas.AuthSettingsRequest(
                    allowSignup: signup?.value, confirmEmail: confirmEmail?.value, siteURL: siteUrl, redirectURLs: redirects,
                    otpExpirySeconds: otpExpiry, smtp: smtp, smtpPassword: password, smtpTrust: trust, sender: sender, apiURL: apiUrl,
                    mailsPerHour: mailsPerHour, templates: templates, secureEmailChange: secureEmailChange?.value)
                if [body.allowSignup == nil, body.confirmEmail == nil, siteUrl == nil, redirects == nil, otpExpiry == nil, smtp == nil, password == nil,
                    trust == nil, sender == nil, apiUrl == nil, mailsPerHour == nil, templates == nil,
                    secureEmailChange == nil].allSatisfy({ $0 })
                {
                    throw CLIError(code: "invalid_request", message: "Nothing to set.", hint: "See `branch auth set --help`.")
                }
                let settings = try await client.setAuthSettings(path: .init(project: name), body: .json(body)).ok.body.json
                if output.json { return try Format.printJSON(settings) }
                Swift.print("\(Style.green("✓")) Auth settings of \(name) saved; they apply from the next request.")
                AuthCommand.print(settings)
                if settings.smtp != nil {
                    Swift.print("Check the mail server with `branch auth test-mail --project \(name) --to YOU@EXAMPLE.COM`.")
                }
            }
        }
    }

    /// The mail kinds --template, --subject and --reset-template change, merged with what is
    /// stored (the API replaces a kind's subject and body together); nil when none is named.
    static func mergedTemplates(
        stored: [Components.Schemas.MailTemplate], bodies: [String], subjects: [String], resets: [String]
    ) throws -> [Components.Schemas.MailTemplate]? {
        guard !(bodies.isEmpty && subjects.isEmpty && resets.isEmpty) else { return nil }
        func pair(_ text: String, _ option: String) throws -> (kind: Components.Schemas.MailTemplate.KindPayload, value: String) {
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 || option == "--reset-template", let kind = Components.Schemas.MailTemplate.KindPayload(rawValue: String(parts[0])) else {
                throw CLIError(
                    code: "invalid_request", message: "\(option) takes KIND\(option == "--reset-template" ? "" : "=VALUE"), KIND one of "
                        + Components.Schemas.MailTemplate.KindPayload.allCases.map(\.rawValue).joined(separator: ", ") + "; got '\(text)'.")
            }
            return (kind, parts.count == 2 ? String(parts[1]) : "")
        }
        var merged = Dictionary(stored.map { ($0.kind, $0) }, uniquingKeysWith: { $1 })
        var changed: [Components.Schemas.MailTemplate.KindPayload] = []
        for text in resets {
            let kind = try pair(text, "--reset-template").kind
            merged[kind] = .init(kind: kind)
            changed.append(kind)
        }
        for text in bodies {
            let (kind, path) = try pair(text, "--template")
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIError(code: "file_not_found", message: "Cannot read \(path).", hint: "--template \(kind.rawValue)=FILE names a file with the mail's body.")
            }
            merged[kind, default: .init(kind: kind)].body = String(decoding: data, as: UTF8.self)
            changed.append(kind)
        }
        for text in subjects {
            let (kind, subject) = try pair(text, "--subject")
            merged[kind, default: .init(kind: kind)].subject = subject
            changed.append(kind)
        }
        return Swift.Set(changed).sorted { $0.rawValue < $1.rawValue }.compactMap { merged[$0] }
    }

    struct TestMail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test-mail", abstract: "Send one test message through the project's auth mail server (exits 1 if it failed).")

        @OptionGroup var project: ProjectOptions
        @Option(help: "The address to send it to.") var to: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            var failed = false
            try await reportingErrors(json: output.json) {
                let name = try project.resolve()
                let report = try await APIClient.make().testAuthMail(path: .init(project: name), body: .json(.init(to: to))).ok.body.json
                failed = !report.delivered
                if output.json { return try Format.printJSON(report) }
                if report.delivered {
                    Swift.print("\(Style.green("✓")) Sent to \(to) (\(report.milliseconds) ms).")
                } else {
                    Swift.print("\(Style.red("✗")) Not sent: \(report.error ?? "unknown error") (\(report.milliseconds) ms)")
                }
            }
            if failed { throw ExitCode.failure }
        }
    }

    static func print(_ settings: Components.Schemas.AuthSettings) {
        var table = Table("SETTING", "VALUE")
        table.add("sign-ups", settings.allowSignup ? "open" : "closed")
        table.add("confirm email", settings.confirmEmail ? "yes: new users follow a mailed link or code" : "no: new users sign in at once")
        table.add("site URL", settings.siteURL)
        table.add("redirect URLs", settings.redirectURLs.isEmpty ? "(the site's own only)" : settings.redirectURLs.joined(separator: " "))
        table.add("links last", "\(settings.otpExpirySeconds) s")
        table.add(
            "email changes",
            settings.secureEmailChange ? "confirmed at the current and the new address" : "confirmed at the new address only")
        table.add("SMTP", settings.smtp.map { "\($0)\(settings.smtpHasPassword ? " (password set)" : "")\(settings.smtpHasTrust ? " (own CA)" : "")" } ?? "none: no mail is sent")
        table.add("sender", settings.sender ?? "-")
        table.add("links start at", settings.apiURL ?? "the service's own address")
        table.add("mails an hour", "at most \(settings.mailsPerHour)")
        let worded: [String] = settings.templates.map { template in
            let parts: [String] = (template.subject == nil ? [] : ["subject"]) + (template.body == nil ? [] : ["body"])
            return "\(template.kind.rawValue) (\(parts.joined(separator: ", ")))"
        }
        table.add("own mail wording", worded.isEmpty ? "none: the default mails" : worded.joined(separator: ", "))
        Swift.print(table.rendered)
    }
}
