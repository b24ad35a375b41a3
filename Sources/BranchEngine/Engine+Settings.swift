public import BranchAPI
import BranchCatalog
import BranchCore
import BranchPostgres
import BranchRuntime
import BranchStorage
import Foundation
import Logging

extension Engine {
    /// Validates settings given to `project create` or `project set`.
    func validate(_ settings: ProjectSettings) throws {
        if let memory = settings.memoryBytes, memory != 0, memory < 64 << 20 {
            throw EngineError.invalidRequest("A memory limit below 64 MB leaves Postgres no room to start.", hint: "Use at least 64M, or 0 for no limit.")
        }
        if let cpus = settings.cpus, !(cpus >= 0 && cpus <= 1024) {
            throw EngineError.invalidRequest("CPUs must be a positive number (e.g. 0.5, 1, 2), or 0 for no limit.")
        }
        if let connections = settings.maxConnections, connections != 0, !(5...10_000).contains(connections) {
            throw EngineError.invalidRequest("Max connections must be between 5 and 10000, or 0 for the default.")
        }
        if let days = settings.retentionDays, !(0...3650).contains(days) {
            throw EngineError.invalidRequest("Retention is between 1 and 3650 days (0: the default).")
        }
        for seconds in [settings.suspendAfterSeconds, settings.suspendMainAfterSeconds].compactMap({ $0 }) where seconds < -1 {
            throw EngineError.invalidRequest("A suspension delay cannot be negative; use 0 to turn suspension off, -1 for the default.")
        }
    }

    /// Applies settings to a project record: absent fields stay, 0 clears.
    static func apply(_ settings: ProjectSettings, to project: inout ProjectRecord) {
        if let memory = settings.memoryBytes { project.memoryLimit = memory == 0 ? nil : memory }
        if let cpus = settings.cpus { project.cpuLimit = cpus == 0 ? nil : cpus }
        if let connections = settings.maxConnections { project.maxConnections = connections == 0 ? nil : connections }
        if let seconds = settings.suspendAfterSeconds { project.suspendAfter = seconds < 0 ? nil : seconds }
        if let seconds = settings.suspendMainAfterSeconds { project.suspendMainAfter = seconds < 0 ? nil : seconds }
        if let days = settings.retentionDays { project.retentionDays = days == 0 ? nil : days }
    }

    /// Idle seconds after which `branch` is suspended (0: never).
    func suspendDelay(_ branch: BranchRecord, project: ProjectRecord) -> Int {
        branch.name == Self.mainBranch ? project.suspendMainAfter ?? 0 : project.suspendAfter ?? configuration.suspendAfter
    }

    /// Changes a project's limits and scale-to-zero settings. Memory and CPU limits are applied to
    /// running containers at once; a new max_connections needs a restart of the running branches,
    /// which this does; a new memory limit resizes shared_buffers at their next start.
    public func updateProject(_ name: String, _ settings: ProjectSettings) async throws -> ProjectUpdated {
        try validate(settings)
        let projectKey = try ResourceName(validating: name, kind: "project name")
        return try await withProjectLock(projectKey.rawValue, checking: { tx in
            try self.requireProject(name, in: tx)
        }) { project in
            var changed = project
            Self.apply(settings, to: &changed)
            let updated = changed
            let needsRestart = updated.maxConnections != project.maxConnections
            let (restarted, timing) = try await journal.run("project.update", project: project.name, target: project.name.rawValue) { op in
                try await op.step("catalog") { try await self.catalog.write { [updated] in try $0.update(updated) } }
                op.onFailure("restore settings") { try await self.catalog.write { try $0.update(project) } }
                var restarted: [String] = []
                for branch in try await self.catalog.branches(project.name) where branch.state == .ready {
                    let spec = self.spec(branch, project: updated)
                    guard self.runtime.state(spec).isRunning else { continue }
                    if needsRestart {
                        try await op.step("restart \(branch.name)") {
                            try await self.stopServer(branch)
                            try await self.startServer(branch)
                        }
                        restarted.append(branch.name.rawValue)
                    } else {
                        try await op.step("limits \(branch.name)") { try await self.runtime.update(spec) }
                    }
                }
                return restarted
            }
            return ProjectUpdated(project: try await projectInfo(updated), restarted: restarted, operation: timing)
        }
    }

    public func events(project: String?, limit: Int) async throws -> EventList {
        let records = try await catalog.events(project: project, limit: max(1, min(limit, 1000)))
        return EventList(events: records.map {
            EventInfo(id: $0.id ?? 0, at: $0.at, project: $0.project, branch: $0.branch, kind: $0.kind, detail: $0.detail)
        })
    }

    /// Records something a branch server did on its own.
    func record(_ kind: String, _ branch: BranchRecord, _ detail: String) async {
        logger.notice("branch event", metadata: ["branch": "\(branch.project)/\(branch.name)", "event": "\(kind)", "detail": "\(detail)"])
        try? await catalog.write { tx in
            try tx.insert(EventRecord(at: Date(), project: branch.project.rawValue, branch: branch.name.rawValue, kind: kind, detail: detail))
            try tx.pruneEvents(keep: 10_000)
        }
    }
}
