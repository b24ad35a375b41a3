import ArgumentParser
import BranchAPI
import Foundation

/// `branch auth provider`: a project's sign-in providers (GitHub, GitLab, Google, Keycloak).
struct AuthProviderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider",
        abstract: "Let your app's users sign in with GitHub, GitLab, Google or Keycloak (`supabase.auth.signInWithOAuth`).",
        subcommands: [List.self, Set.self, Remove.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show each provider, whether it is on, and the callback URL to register at it.")

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let name = try project.resolve()
                let list = try await APIClient.make().listAuthProviders(path: .init(project: name)).ok.body.json
                if output.json { return try Format.printJSON(list) }
                var table = Table("PROVIDER", "SIGN-IN", "CLIENT ID", "URL")
                for provider in list.providers {
                    table.add(
                        provider.provider, provider.enabled ? Style.green("on") : "off", provider.clientId ?? "-", provider.url ?? "(public service)")
                }
                Swift.print(table.rendered)
                if let callback = list.providers.first?.callbackURL {
                    Swift.print("Callback URL to register at the provider: \(callback)")
                }
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set up or change one provider; what you leave out stays as it is.",
            discussion: """
                Register an OAuth app at the provider with the callback URL `branch auth provider list` shows, then give its \
                client id and pipe its secret: `printf %s "$SECRET" | branch auth provider set github --client-id ID \
                --client-secret-stdin --enable`. --url points at your own GitHub Enterprise, GitLab or Keycloak realm \
                (Keycloak needs it); `--url ""` goes back to the public service.
                """)

        @OptionGroup var project: ProjectOptions
        @Argument(help: "github, gitlab, google or keycloak.") var provider: String
        @Option(help: "The OAuth app's client id.") var clientId: String?
        @Flag(help: "Read the OAuth app's client secret from standard input.") var clientSecretStdin = false
        @Option(help: "The provider's own address (GitHub Enterprise, self-hosted GitLab, a Keycloak realm); \"\" for the public service.")
        var url: String?
        @Flag(help: "Turn sign-in with this provider on.") var enable = false
        @Flag(help: "Turn it off (its settings are kept).") var disable = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let name = try project.resolve()
                var secret: String?
                if clientSecretStdin {
                    guard let piped = try Secrets.readFromStandardInputIfPiped() else {
                        throw CLIError(
                            code: "invalid_request", message: "No client secret on standard input.",
                            hint: "Pipe it: `printf %s \"$SECRET\" | branch auth provider set \(provider) --client-secret-stdin`.")
                    }
                    secret = piped
                }
                guard !(enable && disable) else {
                    throw CLIError(code: "invalid_request", message: "--enable and --disable contradict each other.", hint: "Give one of them.")
                }
                let enabled: Bool? = enable ? true : (disable ? false : nil)
                guard clientId != nil || secret != nil || url != nil || enabled != nil else {
                    throw CLIError(code: "invalid_request", message: "Nothing to set.", hint: "See `branch auth provider set --help`.")
                }
                let body = Components.Schemas.AuthProviderRequest(enabled: enabled, clientId: clientId, clientSecret: secret, url: url)
                let saved = try await APIClient.make().setAuthProvider(path: .init(project: name, provider: provider), body: .json(body)).ok.body.json
                if output.json { return try Format.printJSON(saved) }
                Swift.print(
                    "\(Style.green("✓")) \(saved.provider) sign-in of \(name) is \(saved.enabled ? "on" : "off")"
                        + (saved.enabled ? ": `supabase.auth.signInWithOAuth({ provider: '\(saved.provider)' })`." : "."))
                Swift.print("Callback URL to register at \(saved.provider): \(saved.callbackURL)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget a provider's client; its users keep their accounts but cannot sign in with it.")

        @OptionGroup var project: ProjectOptions
        @Argument(help: "github, gitlab, google or keycloak.") var provider: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let name = try project.resolve()
                let result = try await APIClient.make().removeAuthProvider(path: .init(project: name, provider: provider)).ok.body.json
                if output.json { return try Format.printJSON(result) }
                Swift.print("\(Style.green("✓")) \(provider) sign-in of \(name) removed.")
            }
        }
    }
}
