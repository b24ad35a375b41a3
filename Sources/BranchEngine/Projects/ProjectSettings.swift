import BranchRuntime
import BranchCatalog
import BranchCore
import Foundation

extension ProjectSettings {
    /// Refuses values no server could run with.
    func validate() throws {
        if let memory = memoryBytes, memory != 0, memory < 64 << 20 {
            throw EngineError.invalidRequest("A memory limit below 64 MB leaves Postgres no room to start.", hint: "Use at least 64M, or 0 for no limit.")
        }
        if let cpus, !(cpus >= 0 && cpus <= 1024) {
            throw EngineError.invalidRequest("CPUs must be a positive number (e.g. 0.5, 1, 2), or 0 for no limit.")
        }
        if let connections = maxConnections, connections != 0, !(5...10_000).contains(connections) {
            throw EngineError.invalidRequest("Max connections must be between 5 and 10000, or 0 for the default.")
        }
        if let days = retentionDays, !(0...3650).contains(days) {
            throw EngineError.invalidRequest("Retention is between 1 and 3650 days (0: the default).")
        }
        for seconds in [suspendAfterSeconds, suspendMainAfterSeconds].compactMap({ $0 }) where seconds < -1 {
            throw EngineError.invalidRequest("A suspension delay cannot be negative; use 0 to turn suspension off, -1 for the default.")
        }
        if let allowlist { _ = try Allowlist(parsing: allowlist) }
        _ = try BranchLifetime.expiry(ttlSeconds: newBranchTtlSeconds)
    }

    /// Applies the settings to a project record: absent values stay, 0 clears.
    func apply(to project: inout ProjectRecord) {
        if let memory = memoryBytes { project.memoryLimit = memory == 0 ? nil : memory }
        if let cpus { project.cpuLimit = cpus == 0 ? nil : cpus }
        if let connections = maxConnections { project.maxConnections = connections == 0 ? nil : connections }
        if let seconds = suspendAfterSeconds { project.suspendAfter = seconds < 0 ? nil : seconds }
        if let seconds = suspendMainAfterSeconds { project.suspendMainAfter = seconds < 0 ? nil : seconds }
        if let days = retentionDays { project.retentionDays = days == 0 ? nil : days }
        // Validated before: a list that does not parse never gets here.
        if let allowlist, let parsed = try? Allowlist(parsing: allowlist) { project.allowlist = parsed.stored }
        if let seconds = newBranchTtlSeconds { project.newBranchTimeToLive = seconds == 0 ? nil : seconds }
        if let protectNewBranches { project.protectNewBranches = protectNewBranches }
    }
}

extension Projects {
    /// Changes a project's limits, scale-to-zero settings, allowlist and branch defaults. Memory and
    /// CPU limits are applied to running containers at once; a new max_connections needs a restart
    /// of the running branches, which this does; a new memory limit resizes shared_buffers at their
    /// next start.
    package func update(_ name: String, _ settings: ProjectSettings) async throws -> ProjectUpdate {
        try settings.validate()
        let projectKey = try ResourceName(validating: name, kind: "project name")
        return try await context.withProjectLock(projectKey.rawValue, checking: { tx in try tx.requireProject(name) }) { project in
            var changed = project
            settings.apply(to: &changed)
            let updated = changed
            let needsRestart = updated.maxConnections != project.maxConnections
            let allowlistChanged = updated.allowlist != project.allowlist
            let (restarted, timing) = try await journal.run("project.update", project: project.name, target: project.name.rawValue) { op in
                try await op.step("catalog") { try await catalog.write { [updated] in try $0.update(updated) } }
                op.onFailure("restore settings") { try await catalog.write { try $0.update(project) } }
                if allowlistChanged {
                    // The pooler's hba file and every running server's pg_hba.conf, reloaded online.
                    op.onFailure("restore allowlist") {
                        // Undo runs last-first: the catalog is restored here, before the files are rendered from it.
                        try await catalog.write { try $0.update(project) }
                        try await frontDoor.sync()
                        try await servers.applyAllowlist(project)
                    }
                    try await op.step("pooler allowlist") { try await frontDoor.sync() }
                    try await op.step("servers allowlist") { try await servers.applyAllowlist(updated) }
                }
                var restarted: [String] = []
                for branch in try await catalog.branches(project.name) where branch.state == .ready {
                    let spec = servers.spec(branch, project: updated)
                    guard runtime.state(spec).isRunning else { continue }
                    if needsRestart {
                        try await op.step("restart \(branch.name)") {
                            try await servers.stop(branch)
                            try await servers.start(branch)
                        }
                        restarted.append(branch.name.rawValue)
                    } else {
                        try await op.step("limits \(branch.name)") { try await runtime.update(spec) }
                    }
                }
                return restarted
            }
            return ProjectUpdate(project: try await presenter.project(updated), restarted: restarted, operation: timing)
        }
    }
}
