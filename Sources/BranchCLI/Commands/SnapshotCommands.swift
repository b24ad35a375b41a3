import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Create, list, pin and delete read-only snapshots.",
        subcommands: [Create.self, List.self, Pin.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Snapshot a branch (default: the checked-out one).")

        @Argument(help: "The branch.")
        var branch: String?

        @Option(help: "A name to find it by later.")
        var name: String?

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(
                await APIClient.make().createSnapshot(
                    path: .init(project: try project.resolve()), body: .json(.init(branch: branch, name: name))
                ).created.body.json
            ) { result in
                let label = result.snapshot.name.map { "\(result.snapshot.id) (\($0))" } ?? result.snapshot.id
                print("\(Style.green("✓")) Snapshot \(Style.bold(label)) of \(result.snapshot.sourceBranch) \(Format.timing(result.operation)).")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the project's snapshots.")

        @Flag(help: "Also the automatic base snapshots branches started from (always in --json).")
        var all = false

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().listSnapshots(path: .init(project: try project.resolve())).ok.body.json) { list in
                let shown = all ? list.snapshots : list.snapshots.filter { $0.kind != "base" }
                var table = Table("ID", "NAME", "BRANCH", "KIND", "SIZE", "AGE", "BASE OF")
                for snapshot in shown {
                    table.add(
                        snapshot.id, snapshot.name ?? "-", snapshot.sourceBranch, snapshot.pinned ? "\(snapshot.kind), pinned" : snapshot.kind,
                        Format.bytes(snapshot.exclusiveBytes),
                        Format.age(snapshot.createdAt), snapshot.baseOf.joined(separator: ", "))
                }
                print(table.rendered)
                let hidden = list.snapshots.count - shown.count
                if hidden > 0 { print(Style.dim("\(hidden) automatic base snapshot\(hidden == 1 ? "" : "s") not shown (--all shows them).")) }
            }
        }
    }

    struct Pin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pin a snapshot: snapshot schedules' retention keeps it, whatever their rules.")

        @Argument(help: "Snapshot id or name.")
        var snapshot: String

        @Flag(help: "Unpin it: retention decides again.")
        var off = false

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(
                await APIClient.make().updateSnapshot(
                    path: .init(project: try project.resolve(), snapshot: snapshot), body: .json(.init(pinned: !off))
                ).ok.body.json
            ) { info in
                print(info.pinned
                    ? "\(Style.green("✓")) Snapshot \(info.id) is pinned: retention keeps it until `branch snapshot pin \(info.id) --off`."
                    : "\(Style.green("✓")) Snapshot \(info.id) is no longer pinned: its schedule's retention decides again.")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a snapshot.")

        @Argument(help: "Snapshot id or name.")
        var snapshot: String

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().deleteSnapshot(path: .init(project: try project.resolve(), snapshot: snapshot)).ok.body.json) { result in
                print("\(Style.green("✓")) Deleted snapshot \(snapshot) \(Format.timing(result.operation)).")
            }
        }
    }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a snapshot as a new branch (--as), or into a branch in place (--in-place; undoable).")

    @Argument(help: "Snapshot id or name.")
    var snapshot: String

    @Option(name: .customLong("as"), help: "Name of a new branch to restore into.")
    var newBranch: String?

    @Flag(help: "Replace a branch's data with the snapshot; its current state is snapshotted first.")
    var inPlace = false

    @Option(help: "With --in-place or --table: the branch to restore into (default: the one the snapshot was taken from).")
    var branch: String?

    @Option(help: "Restore only this table's rows into the branch (its current rows are replaced; the branch is snapshotted first).")
    var table: String?

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        try await output.report(
            await APIClient.make().restoreSnapshot(
                path: .init(project: try project.resolve(), snapshot: snapshot),
                body: .json(.init(_as: newBranch, branch: branch, inPlace: inPlace ? true : nil, table: table))
            ).ok.body.json
        ) { result in
            if let table, let previous = result.replacedStateSnapshot {
                print("\(Style.green("✓")) Restored table \(table) from \(snapshot) into \(Style.bold(result.branch.name)) \(Format.timing(result.operation)).")
                print("  The branch's previous state is snapshot \(previous.id): `branch restore \(previous.id) --in-place` undoes this.")
            } else if let previous = result.replacedStateSnapshot {
                print("\(Style.green("✓")) Restored \(snapshot) into \(Style.bold(result.branch.name)) \(Format.timing(result.operation)).")
                print("  Its previous state is snapshot \(previous.id): `branch restore \(previous.id) --in-place` undoes this.")
            } else {
                print("\(Style.green("✓")) Restored \(snapshot) as branch \(Style.bold(result.branch.name)) \(Format.timing(result.operation)); port \(result.branch.port).")
            }
        }
    }
}
