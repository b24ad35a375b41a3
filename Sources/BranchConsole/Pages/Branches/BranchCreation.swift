import BranchAPI
import BranchCore
import Foundation

/// The create-branch form (branches page, and "Branch here" on the timeline): from the head of a
/// branch, from an instant inside the point-in-time window, or from a snapshot; and what the
/// service is asked for, with the CLI command that does the same.
struct BranchCreation: Sendable {
    enum Source: String, Sendable { case head, time, snapshot }

    var name: String
    var source: Source
    var from: String?
    var at: Date?
    var snapshot: String?
    /// Seconds until the service deletes it (`ttl`: one of `ttlChoices`, or 0 to keep it); nil: the
    /// project's default.
    var ttlSeconds: Int?
    /// Whether it starts protected (the `protected` box, when the form showed it); nil: the project's default.
    var protected: Bool?
    /// Without the source's rows (`schema_only` checked).
    var schemaOnly: Bool

    /// What the form's time-to-live menu offers (`branch create --ttl`).
    static let ttlChoices: [(label: String, seconds: Int)] = [("1 hour", 3600), ("1 day", 86_400), ("7 days", 604_800), ("30 days", 2_592_000)]

    /// `ttlChoices` as the options of a menu whose value is the seconds.
    static var ttlOptions: [BranchesPages.Option] { ttlOptions(selected: nil) }

    /// The same with `seconds` selected, added to the menu when it is not one of the choices (a
    /// project default set with the CLI, such as 12h).
    static func ttlOptions(selected seconds: Int?) -> [BranchesPages.Option] {
        var options = ttlChoices.map { BranchesPages.Option(value: String($0.seconds), label: $0.label, selected: $0.seconds == seconds) }
        if let seconds, !ttlChoices.contains(where: { $0.seconds == seconds }) {
            options.append(.init(value: String(seconds), label: Seconds.format(seconds), selected: true))
        }
        return options
    }

    /// Reads the posted fields (`name`, `source`, `from`, `at`, `snapshot`, `ttl`, `schema_only`,
    /// `protected` with `protected_shown`).
    init(_ form: FormFields) throws {
        name = form.text("name") ?? ""
        ttlSeconds = form.text("ttl").flatMap(Int.init).flatMap { $0 >= 0 ? $0 : nil }
        protected = form["protected_shown"] == nil ? nil : form["protected"] == "on"
        schemaOnly = form["schema_only"] == "on"
        source = Source(rawValue: form["source"] ?? "") ?? .head
        from = form.text("from")
        snapshot = form.text("snapshot")
        at = nil
        if source == .time {
            guard let text = form.text("at") else { throw ConsoleFailure(status: 400, code: "invalid_request", message: "Choose the instant to branch from.") }
            guard let instant = Instants.parse(text) else {
                throw ConsoleFailure(status: 400, code: "invalid_request", message: "'\(text)' is not an instant.", hint: "Use 2026-12-05T14:30:00 (UTC).")
            }
            at = instant
        }
    }

    var request: Components.Schemas.CreateBranchRequest {
        switch source {
        case .head: .init(from: from, name: name, protected: protected, schemaOnly: schemaOnly ? true : nil, ttlSeconds: ttlSeconds)
        case .time: .init(at: at, from: from, name: name, protected: protected, schemaOnly: schemaOnly ? true : nil, ttlSeconds: ttlSeconds)
        case .snapshot: .init(name: name, protected: protected, schemaOnly: schemaOnly ? true : nil, snapshot: snapshot, ttlSeconds: ttlSeconds)
        }
    }

    func create(project: String, environment: ConsoleEnvironment) async throws -> Components.Schemas.BranchResult {
        let request = request
        return try await environment.call("createBranch", project: project, changes: true) {
            try await $0.createBranch(.init(path: .init(project: project), body: .json(request))).created.body.json
        }
    }

    var cli: String { Self.cli(project: "", name: name, source: source, from: from, at: at.map(Instants.iso), snapshot: snapshot) }

    /// `branch create NAME [--from B] [--at ISO] [--snapshot S] --project P`.
    static func cli(project: String, name: String, source: Source, from: String?, at: String?, snapshot: String?) -> String {
        var words = ["branch create", name.isEmpty ? "NAME" : name]
        switch source {
        case .head: if let from { words += ["--from", from] }
        case .time: words += ["--from", from ?? "main", "--at", at ?? "INSTANT"]
        case .snapshot: words += ["--snapshot", snapshot ?? "SNAPSHOT"]
        }
        if !project.isEmpty { words += ["--project", project] }
        return words.joined(separator: " ")
    }
}
