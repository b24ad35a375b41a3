package import ArgumentParser

/// Every client subcommand of `branch`; the executable adds `serve`.
package enum CLI {
    package static let commands: [any ParsableCommand.Type] = [
        ProjectCommand.self,
        CreateBranch.self, ListBranches.self, DeleteBranch.self, ResetBranch.self, ProtectBranch.self, RenameBranch.self, ExpireBranch.self, StartBranch.self, StopBranch.self,
        Checkout.self, URLCommand.self, KeysCommand.self, EnvCommand.self, PSQL.self, SQLCommand.self, MigrateCommand.self,
        SnapshotCommand.self, Restore.self, ScheduleCommand.self, BackupCommand.self, Export.self, Push.self, Diff.self, Merge.self,
        Top.self, Logs.self, Events.self,
        Status.self, Operations.self, Login.self, Link.self, OpenAPI.self, DocsCommand.self,
        UserCommand.self, MemberCommand.self, TokenCommand.self, AuditCommand.self, AlertsCommand.self, AuthCommand.self, SnippetCommand.self,
        MCPCommand.self,
        VersionCommand.self, UpgradeCommand.self,
    ]
}
