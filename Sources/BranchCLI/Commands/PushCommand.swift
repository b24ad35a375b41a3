import ArgumentParser
import BranchAPI
import Foundation

struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one table, or chosen rows, from a branch or a snapshot to a Postgres outside Branch.",
        discussion: """
            Rows are matched by primary key (both sides need the same one): rows only here are \
            inserted, rows that differ are updated (only their changed columns), and rows only on \
            the target are deleted, within --rows when it is given. --rows is a SQL boolean \
            expression over the table's columns, evaluated on both sides, e.g. --rows "id in (3, 4)".

            Without --apply this is a dry run: it shows the row diff against the target (at most 50 \
            rows of each kind) and writes nothing. With --apply the diff is computed again and \
            written in one transaction on the target; any failure rolls all of it back.
            """)

    @Argument(help: "The table (table or schema.table).")
    var table: String

    @Option(help: "Only the rows this SQL boolean expression selects (on both sides).")
    var rows: String?

    @Option(help: "The target: postgres://USER:PASSWORD@HOST:PORT/DATABASE (?sslmode=require for TLS).")
    var to: String

    @Option(help: "The branch to push from (default: the checked-out one).")
    var branch: String?

    @Option(help: "Push from this snapshot (id or name) instead of a branch.")
    var snapshot: String?

    @Flag(help: "Write the changes (without it: a dry run).")
    var apply = false

    @OptionGroup var project: ProjectOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let request = Components.Schemas.PushRequest(apply: apply, branch: branch, rows: rows, snapshot: snapshot, table: table, to: to)
        try await output.report(
            try await APIClient.make().pushTable(path: .init(project: try project.resolve()), body: .json(request)).ok.body.json
        ) { report in
            for line in PushPrinter.lines(report) { print(line) }
        }
    }
}

/// A push's report for a terminal.
enum PushPrinter {
    static func lines(_ report: Components.Schemas.PushReport) -> [String] {
        var lines = [Style.bold("\(report.table): \(report.source) → \(report.target)") + (report.applied ? "" : Style.dim(" (dry run)"))]
        let total = report.added + report.changed + report.removed
        lines.append(total == 0
            ? "  " + Style.dim("no differences")
            : "  " + [Style.green("\(report.added) added"), Style.yellow("\(report.changed) changed"), Style.red("\(report.removed) removed")]
                .joined(separator: ", "))
        if !report.columnsOnlyInSource.isEmpty {
            lines.append(Style.dim("  Not pushed (not on the target): \(report.columnsOnlyInSource.joined(separator: ", "))"))
        }
        if !report.columnsOnlyInTarget.isEmpty {
            lines.append(Style.dim("  Left as they are (only on the target): \(report.columnsOnlyInTarget.joined(separator: ", "))"))
        }
        for row in report.rows {
            let key = row.key.additionalProperties.sorted { $0.key < $1.key }.map { "\($0.key)=\(DiffPrinter.value($0.value))" }
                .joined(separator: ", ")
            switch row.kind {
            case "added": lines.append(Style.green("  + \(key)  \(DiffPrinter.values(row.new?.additionalProperties))"))
            case "removed": lines.append(Style.red("  - \(key)  \(DiffPrinter.values(row.old?.additionalProperties))"))
            default:
                lines.append(Style.yellow("  ~ \(key)"))
                for column in row.changedColumns ?? [] {
                    let old = row.old?.additionalProperties[column] ?? nil, new = row.new?.additionalProperties[column] ?? nil
                    lines.append("      \(column): \(Style.red(DiffPrinter.value(old))) → \(Style.green(DiffPrinter.value(new)))")
                }
            }
        }
        if report.truncated { lines.append(Style.dim("  … only the first 50 rows of each kind are shown.")) }
        if report.applied {
            lines.append("\(Style.green("✓")) Pushed \(total) row change\(total == 1 ? "" : "s") in one transaction.")
        } else if total > 0 {
            lines.append("Nothing was written. To apply these changes, run the same command with --apply.")
        } else {
            lines.append("Nothing to write: the target already matches.")
        }
        return lines
    }
}
