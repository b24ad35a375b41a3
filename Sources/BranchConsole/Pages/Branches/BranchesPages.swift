import BranchAPI
import Foundation
import Hummingbird

/// `/projects/{p}/branches`: the branches with where each came from, its copy-on-write size and
/// state, and the create form; `/projects/{p}/branches/{b}`: one branch with its connection
/// strings and actions (see `BranchDetailPages`).
struct BranchesPages: Sendable {
    let environment: ConsoleEnvironment

    struct Row: Sendable {
        var name: String
        var href: String
        var depth: [Int]
        var parent: String?
        var parentHref: String?
        var createdFrom: String
        var created: String
        var createdAge: String
        /// When a client last used it (nil: not since the service started).
        var lastActive: String?
        var lastActiveAge: String
        var logical: String
        var size: String
        var status: String
        var protected: Bool
        /// When the service deletes it (UTC), and how long that is from now.
        var expires: String?
        var expiresIn: String
        var checkedOut: Bool
        var restarts: Int
        var port: Int
        var current: Bool
    }

    struct Option: Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    struct CreateForm: Sendable {
        var open: Bool
        var fromHead: Bool
        var fromTime: Bool
        var fromSnapshot: Bool
        var branches: [Option]
        var snapshots: [Option]
        var hasSnapshots: Bool
        var ttlChoices: [Option]
        /// The project's branch defaults, preselected: no time to live ("never" selected), protection.
        var keptByDefault: Bool
        var protectedByDefault: Bool
        var defaults: String
        var at: String
        var min: String
        var max: String
        var window: String
        var cliHead: String
        var cliTime: String
        var cliSnapshot: String
    }

    struct Model: Sendable {
        var project: String
        var rows: [Row]
        var mayWrite: Bool
        var form: CreateForm
    }

    func register<Context: RequestContext>(on pages: RouterGroup<Context>) {
        pages.get("/projects/:project/branches") { request, context -> Response in
            let project = try context.parameters.require("project")
            let query = request.uri.queryParameters
            return try await list(project: project, branch: query["branch"].map(String.init), new: query["new"] != nil, at: query["at"].map(String.init))
        }
        pages.post("/projects/:project/branches") { request, context -> Response in
            let project = try context.parameters.require("project")
            let form = try await environment.form(request)
            try await PageAccess.requireWrite(environment, project: project)
            let back = PageAccess.back(form["back"], project: project, fallback: "/projects/\(ConsolePath.segment(project))/branches?new=1")
            return try await PageAccess.action(environment, back: back) {
                let creation = try BranchCreation(form)
                let created = try await creation.create(project: project, environment: environment)
                let href = "/projects/\(ConsolePath.segment(project))/branches/\(ConsolePath.segment(created.branch.name))"
                let origin = creation.source == .snapshot ? "snapshot \(creation.snapshot ?? "")"
                    : (creation.from ?? "main") + (creation.at.map { " as of \(Instants.utc($0))" } ?? "")
                return environment.redirect(href, flash: "Created branch \(created.branch.name) from \(origin) in \(String(format: "%.0f", created.operation.durationMs)) ms.")
            }
        }
        BranchDetailPages(environment: environment).register(on: pages)
    }

    func list(project: String, branch: String?, new: Bool, at: String?) async throws -> Response {
        async let branchList = environment.call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches
        }
        async let snapshotList = environment.call("listSnapshots", project: project) {
            try await $0.listSnapshots(.init(path: .init(project: project))).ok.body.json.snapshots
        }
        async let projectInfo = environment.call("getProject", project: project) {
            try await $0.getProject(.init(path: .init(project: project))).ok.body.json
        }
        async let metrics = environment.call("getMetrics", project: project) {
            try await $0.getMetrics(.init(query: .init(project: project, minutes: 0))).ok.body.json.series
        }
        let branches = try await branchList
        let snapshots = try await snapshotList
        let logical = Dictionary(try await metrics.map { ($0.branch, $0.samples.last?.databaseBytes) }, uniquingKeysWith: { first, _ in first })
        let byID = Dictionary(snapshots.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let current = branch ?? branches.first { $0.checkedOut }?.name ?? "main"
        let base = "/projects/\(ConsolePath.segment(project))/branches"
        let rows = BranchTree.ordered(branches).map { item -> Row in
            let info = item.branch
            return Row(
                name: info.name, href: "\(base)/\(ConsolePath.segment(info.name))", depth: Array(repeating: 0, count: item.depth),
                parent: info.parent, parentHref: info.parent.map { "\(base)/\(ConsolePath.segment($0))" },
                createdFrom: createdFrom(info, snapshots: byID),
                created: Instants.utc(info.createdAt), createdAge: Formatting.age(info.createdAt),
                lastActive: info.lastActiveAt.map(Instants.utc), lastActiveAge: info.lastActiveAt.map { Formatting.age($0) } ?? "",
                logical: Formatting.bytes(logical[info.name] ?? nil), size: Formatting.bytes(info.exclusiveBytes),
                status: info.status, protected: info.protected, expires: info.expiresAt.map(Instants.utc),
                expiresIn: info.expiresAt.map { Formatting.timeLeft(until: $0) } ?? "", checkedOut: info.checkedOut, restarts: info.restarts, port: info.port, current: info.name == current)
        }
        let form = createForm(
            project: project, defaults: try await projectInfo, branches: branches, snapshots: snapshots, current: current, new: new, at: at)
        let model = Model(project: project, rows: rows, mayWrite: PageAccess.mayWrite(project), form: form)
        return try await environment.page(
            "branches", title: "Branches · \(project)", project: project, branch: branch, branches: branches.map(\.name), section: .branches,
            cli: "branch list --project \(project)", body: model)
    }

    /// HEAD of the parent, an instant or a WAL position of it, a snapshot (by name when it has
    /// one), a backup, or the project's origin. Branches made before the catalog kept it are read
    /// from their base snapshot (a point-in-time one then shows the snapshot its replay ended in).
    func createdFrom(_ branch: Components.Schemas.BranchInfo, snapshots: [String: Components.Schemas.SnapshotInfo]) -> String {
        if let origin = branch.createdFrom {
            return origin.text(parent: branch.parent, snapshotName: origin.snapshot.flatMap { snapshots[$0]?.name })
        }
        guard let snapshot = branch.baseSnapshot.flatMap({ snapshots[$0] }) else { return branch.parent.map { "\($0) @ HEAD" } ?? "project origin" }
        switch snapshot.kind {
        case "base": return "\(snapshot.sourceBranch) @ HEAD"
        case "restored": return "a backup (\(Instants.utc(snapshot.createdAt)))"
        default: return "snapshot \(snapshot.name ?? snapshot.id) (\(snapshot.kind))"
        }
    }

    func createForm(
        project: String, defaults: Components.Schemas.ProjectInfo, branches: [Components.Schemas.BranchInfo],
        snapshots: [Components.Schemas.SnapshotInfo], current: String, new: Bool, at: String?
    ) -> CreateForm {
        let now = Date()
        let source = branches.first { $0.name == current } ?? branches.first
        let earliest = source?.earliestRestorableAt ?? source?.createdAt ?? now
        let wanted = at.flatMap(Instants.parse) ?? now.addingTimeInterval(-300)
        let clamped = min(max(wanted, earliest), now)
        let branchOptions = branches.map { info in
            Option(
                value: info.name,
                label: info.earliestRestorableAt.map { "\(info.name) (restorable from \(Instants.utc($0)))" } ?? info.name,
                selected: info.name == current)
        }
        let snapshotOptions = snapshots.filter { $0.kind != "base" }.sorted { $0.createdAt > $1.createdAt }.map { snapshot in
            Option(
                value: snapshot.id,
                label: "\(snapshot.name ?? snapshot.id) · \(snapshot.sourceBranch) · \(snapshot.kind) · \(Instants.utc(snapshot.createdAt))",
                selected: false)
        }
        return CreateForm(
            open: new || at != nil, fromHead: at == nil, fromTime: at != nil, fromSnapshot: false,
            branches: branchOptions, snapshots: snapshotOptions, hasSnapshots: !snapshotOptions.isEmpty,
            ttlChoices: BranchCreation.ttlOptions(selected: defaults.newBranchTtlSeconds),
            keptByDefault: defaults.newBranchTtlSeconds == nil, protectedByDefault: defaults.protectNewBranches,
            defaults: defaults.branchDefaultsText,
            at: Instants.localInput(clamped), min: Instants.localInput(earliest), max: Instants.localInput(now),
            window: "\(Instants.utc(earliest)) → now",
            cliHead: BranchCreation.cli(project: project, name: "", source: .head, from: current, at: nil, snapshot: nil),
            cliTime: BranchCreation.cli(project: project, name: "", source: .time, from: current, at: Instants.iso(clamped), snapshot: nil),
            cliSnapshot: BranchCreation.cli(project: project, name: "", source: .snapshot, from: nil, at: nil, snapshot: nil))
    }
}

/// Branches in tree order (each child under its parent, by creation), as `branch list` prints them.
enum BranchTree {
    struct Item: Sendable {
        var branch: Components.Schemas.BranchInfo
        var depth: Int
    }

    static func ordered(_ branches: [Components.Schemas.BranchInfo]) -> [Item] {
        let names = Set(branches.map(\.name))
        let children = Dictionary(grouping: branches) { $0.parent.flatMap { names.contains($0) ? $0 : nil } ?? "" }
        var items: [Item] = []
        func visit(_ parent: String, depth: Int) {
            for branch in (children[parent] ?? []).sorted(by: { ($0.createdAt, $0.name) < ($1.createdAt, $1.name) }) {
                items.append(Item(branch: branch, depth: depth))
                visit(branch.name, depth: depth + 1)
            }
        }
        visit("", depth: 0)
        return items
    }
}
