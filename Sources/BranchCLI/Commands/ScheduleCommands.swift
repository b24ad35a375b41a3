import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Show and set a project's automatic snapshot and backup schedules.",
        subcommands: [Show.self, Set.self, Off.self], defaultSubcommand: Show.self)

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the project's schedules.")

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().listSchedules(path: .init(project: try project.resolve())).ok.body.json) { list in
                if list.schedules.isEmpty { return print("No schedules. Set one with `branch schedule set snapshot --cron '0 * * * *'`.") }
                var table = Table("KIND", "WHEN (UTC)", "KEEP", "NEXT", "WEBHOOK")
                for schedule in list.schedules {
                    let keep = "last \(schedule.keepLast), hourly \(schedule.hourly), daily \(schedule.daily), weekly \(schedule.weekly), monthly \(schedule.monthly)"
                    let next = schedule.enabled ? (schedule.nextRunAt.map { ISO8601DateFormatter().string(from: $0) } ?? "-") : Style.dim("off")
                    table.add(schedule.kind, schedule.expression, keep, next, schedule.webhookURL.map { $0 + (schedule.webhookSlack ? " (slack)" : "") } ?? "-")
                }
                print(table.rendered)
            }
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set the snapshot or backup schedule and its retention (automatic ones only; manual snapshots are never pruned).")

        @Argument(help: "snapshot or backup.")
        var kind: String

        @Option(help: "When: cron fields in UTC ('0 * * * *'), a macro (@hourly, @daily, @weekly) or '@every 30m'.")
        var cron: String

        @Option(help: "Keep the newest N.") var keepLast: Int?
        @Option(help: "Keep the newest in each of the last N hours.") var hourly: Int?
        @Option(help: "Keep the newest in each of the last N days.") var daily: Int?
        @Option(help: "Keep the newest in each of the last N weeks.") var weekly: Int?
        @Option(help: "Keep the newest in each of the last N months.") var monthly: Int?
        @Option(help: "Backups: POST a JSON report here after each run (success or failure).") var webhook: String?
        @Flag(help: "Send the webhook in Slack's incoming-webhook format.") var slack = false

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors(json: output.json) {
                let request = Components.Schemas.ScheduleRequest(
                    daily: daily, enabled: true, expression: cron, hourly: hourly, keepLast: keepLast, monthly: monthly,
                    webhookSlack: webhook == nil ? nil : slack, webhookURL: webhook, weekly: weekly)
                let schedule = try await APIClient.make().setSchedule(
                    path: .init(project: try project.resolve(), kind: kind), body: .json(request)
                ).ok.body.json
                if output.json { return try Format.printJSON(schedule) }
                let next = schedule.nextRunAt.map { ISO8601DateFormatter().string(from: $0) } ?? "-"
                print("\(Style.green("✓")) \(schedule.kind.capitalized) schedule: \(schedule.expression); next run \(next).")
            }
        }
    }

    struct Off: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the snapshot or backup schedule.")

        @Argument(help: "snapshot or backup.")
        var kind: String

        @OptionGroup var project: ProjectOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await output.report(await APIClient.make().deleteSchedule(path: .init(project: try project.resolve(), kind: kind)).ok.body.json) { list in
                print("\(Style.green("✓")) Removed the \(kind) schedule.")
            }
        }
    }
}
