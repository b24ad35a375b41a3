import BranchAPI
import Foundation

/// The connection strings of branches: through the pooler (`project__branch`, resumes a
/// suspended branch on the first connection) and direct to the branch's own port. Developers get
/// full URLs with the password (getBranchConnection needs developer); viewers get where to
/// connect without it. Asking for the pooled entry does not wake a suspended branch.
enum BranchConnections {
    struct Entry: Sendable {
        var branch: String
        var id: String
        var pooled: String
        var direct: String
        var current: Bool
    }

    static func load(
        project: Components.Schemas.ProjectInfo, branches: [Components.Schemas.BranchInfo], reveal: Bool, current: String? = nil,
        environment: ConsoleEnvironment
    ) async throws -> [Entry] {
        guard reveal else {
            return branches.map { branch in
                let database = branch.poolerDatabase ?? "\(project.name)__\(branch.name)"
                return Entry(
                    branch: branch.name, id: "conn-\(branch.name)",
                    pooled: "host \(project.poolerHost) port \(project.poolerPort) database \(database) (password hidden for viewers)",
                    direct: "host \(project.poolerHost) port \(branch.port) database \(project.database)", current: branch.name == current)
            }
        }
        let name = project.name
        return try await withThrowingTaskGroup(of: Entry.self) { group in
            for branch in branches {
                group.addTask {
                    let pooled = try await environment.call("getBranchConnection", project: name) {
                        try await $0.getBranchConnection(.init(path: .init(project: name, branch: branch.name), query: .init(pooled: true))).ok.body.json
                    }
                    return Entry(
                        branch: branch.name, id: "conn-\(branch.name)", pooled: pooled.url,
                        direct: direct(pooled, port: branch.port, database: project.database), current: branch.name == current)
                }
            }
            var entries = try await group.reduce(into: [Entry]()) { $0.append($1) }
            let order = Dictionary(uniqueKeysWithValues: branches.enumerated().map { ($1.name, $0) })
            entries.sort { order[$0.branch, default: 0] < order[$1.branch, default: 0] }
            return entries
        }
    }

    /// The branch's own port with the project's database: the pooled answer's credentials and host
    /// (asking the API for the direct one would resume a suspended branch just to show a page).
    static func direct(_ pooled: Components.Schemas.ConnectionResponse, port: Int, database: String) -> String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.user = pooled.user
        components.password = pooled.password
        components.host = pooled.host
        components.port = port
        components.path = "/" + database
        return components.string ?? pooled.url
    }
}
