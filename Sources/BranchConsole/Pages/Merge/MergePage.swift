import BranchAPI
import Foundation
import Hummingbird

/// The merge page: pickers, the two summaries from the base, the dry run's plan and conflicts,
/// and the apply form; and the result page after an applied merge.
struct MergePage: Sendable {
    let environment: ConsoleEnvironment

    struct Option: Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    /// base → one side: counts per table, from a diff summary.
    struct SideSummary: Sendable {
        var title: String
        var cssClass: String
        var added: Int
        var removed: Int
        var modified: Int
        var schemaChanges: Int
        var href: String
    }

    struct TablePlan: Sendable {
        var table: String
        var inserts: Int
        var updates: Int
        var deletes: Int
        var conflicts: Int
    }

    struct SchemaRow: Sendable {
        var objectType: String
        var name: String
        var change: String
        var breaking: Bool
        var reason: String?
    }

    struct ConflictCell: Sendable {
        var column: String
        var base: String
        var ours: String
        var theirs: String
        var differs: Bool
        /// A non-key column the sides disagree on: it can be settled on its own.
        var pickable: Bool
        var field: String
        var options: [Option]
        var custom: String
    }

    struct Conflict: Sendable {
        var index: Int
        var table: String
        var key: String
        var kind: String
        var row: String
        var cells: [ConflictCell]
        var takeSource: Bool
        var takeTarget: Bool
    }

    struct Plan: Sendable {
        var base: String
        var schemaStatements: [String]
        var hasStatements: Bool
        var schemaChanges: [SchemaRow]
        var hasSchemaChanges: Bool
        var tables: [TablePlan]
        var hasTables: Bool
        var conflicts: [Conflict]
        var hasConflicts: Bool
        var conflictCount: Int
        var conflictsLabel: String
        var unresolved: Int
        var nothing: Bool
    }

    struct Model: Sendable {
        var project: String
        var source: String
        var target: String
        var sources: [Option]
        var targets: [Option]
        var prefers: [Option]
        var base: String?
        var error: String?
        var notice: String?
        var mayWrite: Bool
        var ours: SideSummary?
        var theirs: SideSummary?
        var plan: Plan?
        var previewCLI: String
        var applyCLI: String
        var allowDestructive: Bool
        /// The `--resolutions` file the CLI lines name: the choices made on the page.
        var resolutionsJSON: String?
        /// "Preview as a diff": the rows the merge would write to the target.
        var rehearsal: MergeRehearsal.Outcome?
    }

    struct Result: Sendable {
        var project: String
        var source: String
        var target: String
        var applied: Bool
        var undoSnapshot: String?
        var tables: [TablePlan]
        var milliseconds: String
        var snapshotsHref: String
        var diffHref: String
        var back: String
        var undoCLI: String?
        var mayWrite: Bool
    }

    func render(project: String, query: FormFields) async throws -> Response {
        try await page(
            project: project, source: query.text("source"), target: query.text("target"), prefer: nil, resolutions: [],
            allowDestructive: query["allow_destructive"] == "on", dryRun: true)
    }

    /// The form: "Preview" runs a dry run with the choices; "Preview as a diff" also rehearses
    /// the merge on a copy of the target and shows its rows; "Merge" applies them.
    func submit(project: String, form: FormFields) async throws -> Response {
        let session = try ConsoleSession.required()
        _ = try await environment.call("listBranches", project: project) { try await $0.listBranches(.init(path: .init(project: project))).ok.body.json }
        guard session.viewer.may(.developer, in: project) else {
            throw ConsoleFailure(status: 403, code: "forbidden", message: "Merging needs the developer role in \(project).")
        }
        guard let source = form.text("source") else { throw ConsoleFailure(status: 400, code: "invalid_request", message: "Choose a branch to merge.") }
        let prefer = form.text("prefer").flatMap { ["source", "target"].contains($0) ? $0 : nil }
        let resolutions = Self.resolutions(form)
        return try await page(
            project: project, source: source, target: form.text("target"), prefer: prefer, resolutions: resolutions,
            allowDestructive: form["allow_destructive"] == "on", dryRun: form["action"] != "apply", rehearse: form["action"] == "rehearse")
    }

    /// Per conflict N: `row.N` (its table and key as JSON), `take.N` (source or target: the whole
    /// row), and per cell I that can be settled alone `col.N.I` (the column), `cell.N.I` (source,
    /// target, null or custom: that cell's own choice) and `value.N.I` (the custom value). A
    /// conflict with cells chosen and no row side keeps ours (the target's row) for the rest.
    static func resolutions(_ form: FormFields) -> [Components.Schemas.MergeResolution] {
        form.pairs.compactMap { pair -> Components.Schemas.MergeResolution? in
            guard pair.name.hasPrefix("row."), let data = pair.value.data(using: .utf8),
                let named = try? JSONDecoder().decode(NamedRow.self, from: data)
            else { return nil }
            let index = String(pair.name.dropFirst(4))
            var cells: [String: Components.Schemas.MergeResolution.CellsPayload.AdditionalPropertiesPayload] = [:]
            var values: [String: String?] = [:]
            for column in form.pairs where column.name.hasPrefix("col.\(index).") {
                let cell = String(column.name.dropFirst("col.\(index).".count))
                switch form["cell.\(index).\(cell)"] {
                case "source": cells[column.value] = .source
                case "target": cells[column.value] = .target
                case "null": values[column.value] = .some(nil)
                case "custom": values[column.value] = .some(form["value.\(index).\(cell)"] ?? "")
                default: break
                }
            }
            let take = form["take." + index].flatMap { ["source", "target"].contains($0) ? $0 : nil }
                ?? (cells.isEmpty && values.isEmpty ? nil : "target")
            guard let take else { return nil }
            return .init(
                cells: cells.isEmpty ? nil : .init(additionalProperties: cells), key: .init(additionalProperties: named.key), table: named.table,
                take: take, values: values.isEmpty ? nil : .init(additionalProperties: values))
        }
    }

    static func json(_ resolutions: [Components.Schemas.MergeResolution]) -> String? {
        guard !resolutions.isEmpty else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return (try? encoder.encode(resolutions)).map { String(decoding: $0, as: UTF8.self) }
    }

    struct NamedRow: Codable {
        var table: String
        var key: [String: String?]
    }

    func page(
        project: String, source: String?, target: String?, prefer: String?, resolutions: [Components.Schemas.MergeResolution],
        allowDestructive: Bool, dryRun: Bool, rehearse: Bool = false
    ) async throws -> Response {
        let session = try ConsoleSession.required()
        let branches = try await environment.call("listBranches", project: project) {
            try await $0.listBranches(.init(path: .init(project: project))).ok.body.json.branches
        }
        // A past state (a snapshot, BRANCH@INSTANT) merges as its branch was then: that branch gives the base and the default target.
        let pastOf: String? = if let source, !branches.contains(where: { $0.name == source }) { try await pastBranch(source, project: project) } else { nil }
        let chosen = (pastOf ?? source).flatMap { name in branches.first { $0.name == name } }
            ?? branches.filter { $0.parent != nil }.max { $0.createdAt < $1.createdAt } ?? branches.first
        let sourceName = source ?? chosen?.name ?? "main"
        let targetName = target ?? chosen?.parent ?? "main"
        let mayWrite = session.viewer.may(.developer, in: project)
        var cliBase = ["branch", "merge", sourceName, "--into", targetName]
        if let prefer { cliBase += ["--prefer", prefer] }
        if !resolutions.isEmpty { cliBase += ["--resolutions", "resolutions.json"] }
        if allowDestructive { cliBase.append("--allow-destructive") }
        var model = Model(
            project: project, source: sourceName, target: targetName,
            sources: (pastOf == nil ? [] : [Option(value: sourceName, label: "\(sourceName) (\(pastOf!) as it was then)", selected: true)])
                + branches.map { Option(value: $0.name, label: $0.name + ($0.parent.map { " (from \($0))" } ?? ""), selected: $0.name == sourceName) },
            targets: branches.map { Option(value: $0.name, label: $0.name, selected: $0.name == targetName) },
            prefers: [("", "Leave conflicts unresolved"), ("source", "theirs (the source) wins"), ("target", "ours (the target) wins")].map {
                Option(value: $0.0, label: $0.1, selected: $0.0 == (prefer ?? ""))
            },
            base: chosen.flatMap { $0.name == (pastOf ?? sourceName) ? $0.baseSnapshot : nil },
            error: nil, notice: nil, mayWrite: mayWrite, ours: nil, theirs: nil, plan: nil,
            previewCLI: ShellWords.join(cliBase + ["--dry-run"]), applyCLI: ShellWords.join(cliBase), allowDestructive: allowDestructive,
            resolutionsJSON: Self.json(resolutions))
        if sourceName == targetName {
            model.notice = "Choose a branch to merge and the branch to merge it into."
            return try await render(model, project: project, branch: targetName)
        }
        if let base = model.base {
            let reader = DiffReader(environment: environment, project: project)
            async let ours = try? reader.summary(from: base, to: targetName)
            async let theirs = try? reader.summary(from: base, to: sourceName)
            model.ours = await ours.map { side("base → ours (\(targetName), the target)", "ours", $0, project: project, from: base, to: targetName) }
            model.theirs = await theirs.map { side("base → theirs (\(sourceName), the source)", "theirs", $0, project: project, from: base, to: sourceName) }
        }
        guard mayWrite else {
            model.notice = "A merge's plan and conflicts come from a dry run, which needs the developer role: you can see what each side changed since the base."
            return try await render(model, project: project, branch: targetName)
        }
        do {
            let call = MergeCall(
                environment: environment, project: project, source: sourceName, prefer: prefer, resolutions: resolutions,
                allowDestructive: allowDestructive)
            let result = try await call.run(into: targetName, dryRun: dryRun, audit: "\(sourceName)→\(targetName)")
            if result.applied { return try await resultPage(result, project: project) }
            model.base = result.base
            model.plan = plan(result, resolutions: resolutions)
            if rehearse, let plan = model.plan, plan.unresolved == 0, !plan.nothing {
                model.rehearsal = try await MergeRehearsal(environment: environment, project: project).rehearse(call, target: targetName)
            } else if rehearse, let plan = model.plan, plan.unresolved > 0 {
                model.error = "No diff preview yet: \(plan.unresolved) conflict\(plan.unresolved == 1 ? " is" : "s are") unresolved. Choose ours or theirs for each, or a side for all."
            }
            if !dryRun, let plan = model.plan, plan.unresolved > 0 {
                model.error = "Nothing was merged: \(plan.unresolved) conflict\(plan.unresolved == 1 ? " is" : "s are") unresolved. Choose ours or theirs for each, or a side for all."
            } else if !dryRun {
                model.notice = "Nothing to merge: \(targetName) already has every change of \(sourceName)."
            }
        } catch let failure as ConsoleFailure where failure.status != 403 && failure.status != 404 {
            model.error = "\(failure.message) (\(failure.code))" + (failure.hint.map { " " + $0 } ?? "")
        }
        return try await render(model, project: project, branch: targetName)
    }

    /// The branch a past state names: `BRANCH@…`'s branch, or the branch a snapshot was taken of.
    func pastBranch(_ spec: String, project: String) async throws -> String? {
        if let at = spec.lastIndex(of: "@") { return String(spec[..<at]) }
        let snapshots = try await environment.call("listSnapshots", project: project) {
            try await $0.listSnapshots(.init(path: .init(project: project))).ok.body.json.snapshots
        }
        return snapshots.first { $0.id == spec || $0.name == spec }?.sourceBranch
    }

    func render(_ model: Model, project: String, branch: String) async throws -> Response {
        try await environment.page(
            "merge", title: "Merge \(model.source) into \(model.target)", project: project, branch: branch, section: .merge, cli: model.previewCLI,
            script: "diff.js", body: model)
    }

    func side(_ title: String, _ css: String, _ summary: DiffReader.Summary, project: String, from: String, to: String) -> SideSummary {
        SideSummary(
            title: title, cssClass: css, added: summary.tables.map(\.added).reduce(0, +), removed: summary.tables.map(\.removed).reduce(0, +),
            modified: summary.tables.map(\.changed).reduce(0, +), schemaChanges: summary.schema.count,
            href: "/projects/\(ConsolePath.segment(project))/diff?from=\(FormFields.encode(from))&to=\(FormFields.encode(to))")
    }

    func plan(_ result: Components.Schemas.MergeResult, resolutions: [Components.Schemas.MergeResolution]) -> Plan {
        let conflicts = result.conflicts.enumerated().map { index, conflict in
            let base = conflict.base?.additionalProperties
            let ours = conflict.target?.additionalProperties
            let theirs = conflict.source?.additionalProperties
            let key = conflict.key.additionalProperties
            let columns = Set((base ?? [:]).keys).union((ours ?? [:]).keys).union((theirs ?? [:]).keys)
            let ordered = key.keys.sorted() + columns.subtracting(key.keys).sorted()
            func text(_ row: [String: String?]?, _ column: String) -> String {
                guard let row else { return "(no row)" }
                guard let value = row[column] else { return "—" }
                return value.map { $0.count > 80 ? String($0.prefix(80)) + "…" : $0 } ?? "NULL"
            }
            let resolution = resolutions.first { $0.table == conflict.table && $0.key == conflict.key }
            let chosen = conflict.resolution ?? resolution?.take
            let named = NamedRow(table: conflict.table, key: key)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            // Cells can be settled alone when both sides have the row (a deleted row is taken whole).
            let bothRows = ours != nil && theirs != nil
            return Conflict(
                index: index, table: conflict.table, key: key.keys.sorted().map { "\($0)=\(key[$0].flatMap { $0 } ?? "NULL")" }.joined(separator: ", "),
                kind: conflict.kind, row: (try? encoder.encode(named)).map { String(decoding: $0, as: UTF8.self) } ?? "{}",
                cells: ordered.enumerated().map { position, column in
                    let values = [text(base, column), text(ours, column), text(theirs, column)]
                    let differs = Set(values).count > 1
                    let picked: String = resolution?.cells?.additionalProperties[column].map(\.rawValue)
                        ?? resolution?.values?.additionalProperties[column].map { $0 == nil ? "null" : "custom" } ?? ""
                    let custom = picked == "custom" ? (resolution?.values?.additionalProperties[column] ?? nil) ?? "" : ""
                    return ConflictCell(
                        column: column, base: values[0], ours: values[1], theirs: values[2], differs: differs,
                        pickable: differs && bothRows && key[column] == nil, field: "\(index).\(position)",
                        options: [("", "the row's choice"), ("target", "ours"), ("source", "theirs"), ("null", "NULL"), ("custom", "custom value")].map {
                            Option(value: $0.0, label: $0.1, selected: $0.0 == picked)
                        },
                        custom: custom)
                },
                takeSource: chosen == "source", takeTarget: chosen == "target")
        }
        let tables = result.tables.map { TablePlan(table: $0.table, inserts: $0.inserts, updates: $0.updates, deletes: $0.deletes, conflicts: $0.conflicts) }
        return Plan(
            base: result.base, schemaStatements: result.schemaStatements, hasStatements: !result.schemaStatements.isEmpty,
            schemaChanges: result.schemaChanges.map {
                SchemaRow(objectType: $0.objectType, name: $0.name, change: $0.change, breaking: $0.classification == "breaking", reason: $0.reason)
            },
            hasSchemaChanges: !result.schemaChanges.isEmpty, tables: tables, hasTables: !tables.isEmpty, conflicts: conflicts,
            hasConflicts: !conflicts.isEmpty, conflictCount: conflicts.count,
            conflictsLabel: conflicts.count == 1 ? "1 conflict" : "\(conflicts.count) conflicts", unresolved: result.conflicts.filter { $0.resolution == nil }.count,
            nothing: tables.isEmpty && result.schemaStatements.isEmpty)
    }

    func resultPage(_ result: Components.Schemas.MergeResult, project: String) async throws -> Response {
        let segment = ConsolePath.segment(project)
        let model = Result(
            project: project, source: result.source, target: result.target, applied: result.applied, undoSnapshot: result.undoSnapshot,
            tables: result.tables.map { TablePlan(table: $0.table, inserts: $0.inserts, updates: $0.updates, deletes: $0.deletes, conflicts: $0.conflicts) },
            milliseconds: String(format: "%.0f", result.operation?.durationMs ?? 0), snapshotsHref: "/projects/\(segment)/backups",
            diffHref: result.undoSnapshot.map { "/projects/\(segment)/diff?from=\(FormFields.encode($0))&to=\(FormFields.encode(result.target))" } ?? "",
            back: "/projects/\(segment)/merge?source=\(FormFields.encode(result.source))&target=\(FormFields.encode(result.target))",
            undoCLI: result.undoSnapshot.map { ShellWords.join(["branch", "restore", $0, "--in-place", "--branch", result.target]) },
            mayWrite: true)
        return try await environment.page(
            "merge-result", title: "Merged \(result.source) into \(result.target)", project: project, branch: result.target, section: .merge,
            cli: ShellWords.join(["branch", "merge", result.source, "--into", result.target]), body: model)
    }
}
