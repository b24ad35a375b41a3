import ArgumentParser
import BranchAPI
import BranchCore
import Foundation

struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project", abstract: "Create, list, show and delete projects.",
        subcommands: [Create.self, List.self, Show.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a project: a Postgres cluster with an owner role and a main branch.")

        @Argument(help: "Name: lowercase letters, digits and '-', up to 63 characters.")
        var name: String

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let created: ProjectCreated = try await APIClient().post(APIPath.projects(), CreateProjectRequest(name: name))
                if output.json { return try Format.printJSON(created) }
                print("\(Style.green("✓")) Created project \(Style.bold(created.project.name)) \(Format.timing(created.operation)).")
                print("  Postgres \(created.project.postgresMajor), role and database '\(created.project.role)', branch main running.")
                print("  Connection (pooled, follows `branch checkout`):")
                print("    \(created.connection.url)")
                print("Next: `branch link \(created.project.name)` in your app's folder, then `branch create my-feature`.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List projects.")

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let list: ProjectList = try await APIClient().get(APIPath.projects())
                if output.json { return try Format.printJSON(list) }
                if list.projects.isEmpty {
                    print("No projects yet. Create one with `branch project create NAME`.")
                    return
                }
                var table = Table("PROJECT", "PG", "CHECKED OUT", "BRANCHES", "SNAPSHOTS", "SIZE", "AGE")
                for project in list.projects {
                    table.add(
                        project.name, "\(project.postgresMajor)", project.checkedOut, "\(project.branches)", "\(project.snapshots)",
                        Format.bytes(project.exclusiveBytes), Format.age(project.createdAt))
                }
                print(table.rendered)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one project.")

        @Argument(help: "The project (default: the linked one).")
        var name: String?

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let name = try resolveProject(self.name)
                let project: ProjectInfo = try await APIClient().get(APIPath.projects(name))
                if output.json { return try Format.printJSON(project) }
                var table = Table("PROJECT", project.name)
                table.add("postgres", "\(project.postgresMajor)")
                table.add("role / database", "\(project.role) / \(project.database)")
                table.add("checked out", project.checkedOut)
                table.add("branches", "\(project.branches)")
                table.add("snapshots", "\(project.snapshots)")
                table.add("size on disk", Format.bytes(project.exclusiveBytes))
                table.add("pooled endpoint", "\(project.poolerHost):\(project.poolerPort)/\(project.name)  (`branch url` prints the URL)")
                table.add("created", "\(Format.age(project.createdAt)) ago")
                print(table.rendered)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a project and all its data.")

        @Argument(help: "The project.")
        var name: String

        @Flag(help: "Also when it has branches besides main.")
        var force = false

        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let result: DeleteResult = try await APIClient().delete(APIPath.projects(name) + (force ? "?force=true" : ""))
                if output.json { return try Format.printJSON(result) }
                print("\(Style.green("✓")) Deleted project \(name) \(Format.timing(result.operation)).")
            }
        }
    }
}
