/// What every page's frame shows (`templates/layout.mustache`): the `PROJECT / BRANCH @ point`
/// bar and its switchers, the navigation, the user, the flash message, the CLI equivalent of the
/// page, and the CSRF token its forms send back.
struct Shell: Sendable {
    struct Link: Sendable {
        var label: String
        var href: String
        var current: Bool
        /// The `G`+letter chord that opens it, shown in the `?` sheet and beside the link.
        var chord: String?
    }

    var title: String
    var csrf: String
    var email: String
    var isAdmin: Bool
    var project: String?
    var branch: String?
    /// "HEAD", or the instant or snapshot a historical (read-only, tinted) view looks at.
    var point: String
    var historical: Bool
    var projects: [Link]
    var branches: [Link]
    var nav: [Link]
    var instanceNav: [Link]
    var flash: String?
    var flashIsError: Bool
    /// The CLI command that does what this page shows or does.
    var cli: String?
    var stylesheet: String
    var script: String
    /// The page's own module (`js/NAME.js`), when it has one.
    var pageScript: String?
    /// "dark" (the default) or "light", from the theme cookie the toggle sets.
    var theme: String
}

/// The sections of a project, in the navigation's order: (path under the project, label, chord).
enum ProjectSection: String, CaseIterable, Sendable {
    case overview = "", timeline, branches, tables, sql, diff, merge, backups, database, monitoring, auth, settings

    var label: String {
        switch self {
        case .overview: "Overview"
        case .timeline: "Timeline"
        case .branches: "Branches"
        case .tables: "Table editor"
        case .sql: "SQL editor"
        case .diff: "Diff"
        case .merge: "Merge"
        case .backups: "Snapshots & backups"
        case .database: "Database"
        case .monitoring: "Observability"
        case .auth: "Auth users"
        case .settings: "Keys & settings"
        }
    }

    /// The second key of the `G` chord.
    var chord: String {
        switch self {
        case .overview: "o"
        case .timeline: "t"
        case .branches: "b"
        case .tables: "e"
        case .sql: "q"
        case .diff: "d"
        case .merge: "m"
        case .backups: "s"
        case .database: "n"
        case .monitoring: "l"
        case .auth: "u"
        case .settings: "k"
        }
    }

    func href(project: String, branch: String?) -> String {
        let base = "/projects/\(ConsolePath.segment(project))" + (rawValue.isEmpty ? "" : "/\(rawValue)")
        return branch.map { base + "?branch=" + FormFields.encode($0) } ?? base
    }
}

/// Pages outside any project.
enum InstanceSection: String, CaseIterable, Sendable {
    case projects, activity, settings, account

    var label: String {
        switch self {
        case .projects: "Projects"
        case .activity: "Activity"
        case .settings: "Instance settings"
        case .account: "Your account"
        }
    }

    var chord: String {
        switch self {
        case .projects: "p"
        case .activity: "a"
        case .settings: "i"
        case .account: "y"
        }
    }
    var href: String { self == .projects ? "/" : "/\(rawValue)" }
}

/// Building console URLs.
enum ConsolePath {
    /// A path segment, percent-encoded (names are already restricted; this is defence in depth).
    static func segment(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

import Foundation
