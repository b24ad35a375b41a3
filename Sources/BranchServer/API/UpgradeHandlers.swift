import BranchAPI
import BranchEngine
import Foundation

/// `GET /api/v1/version` and `POST /api/v1/upgrade` (self-update, docs/operations.md).
extension APIHandlers {
    func getVersion(_ input: Operations.GetVersion.Input) async throws -> Operations.GetVersion.Output {
        .ok(.init(body: .json(.init(await engine.upgrades.version()))))
    }

    func upgrade(_ input: Operations.Upgrade.Input) async throws -> Operations.Upgrade.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let started: Upgrades.Started
        switch (body.from, body.rollback ?? false) {
        case (let from?, false): started = try await engine.upgrades.upgrade(from: from)
        case (nil, true): started = try await engine.upgrades.rollback()
        default:
            throw APIInputError(
                message: "Give either `from` (a release archive) or `rollback: true`.",
                hint: "`branch upgrade --from FILE|URL`, or `branch upgrade --rollback`.")
        }
        return .accepted(.init(body: .json(.init(
            from: started.from, healthTimeoutSeconds: started.healthTimeoutSeconds, manual: started.manual, restart: started.restart,
            to: started.to))))
    }
}

extension Components.Schemas.VersionInfo {
    init(_ report: Upgrades.VersionReport) {
        self.init(
            binary: report.binary, catalogVersion: report.catalogVersion,
            lastUpgrade: report.lastUpgrade.map { last in
                .init(
                    catalogBackup: last.catalogBackup, detail: last.detail, finishedAt: last.finishedAt, from: last.from.version, id: last.id,
                    manual: last.manual, phase: last.phase.rawValue, startedAt: last.startedAt, to: last.to.version)
            },
            previousBinary: report.previousBinary, previousVersion: report.previousVersion, version: report.version)
    }
}

extension APIHandlers {
    func upgradePostgres(_ input: Operations.UpgradePostgres.Input) async throws -> Operations.UpgradePostgres.Output {
        let (installed, restarted) = try await engine.upgrades.restartPostgres()
        return .ok(.init(body: .json(.init(
            branches: restarted.map {
                .init(branch: $0.branch, from: $0.from, paused: $0.paused, pausedMs: $0.pausedMilliseconds, project: $0.project, to: $0.to)
            },
            postgres: installed))))
    }
}
