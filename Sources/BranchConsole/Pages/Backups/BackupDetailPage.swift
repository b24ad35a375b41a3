import BranchAPI
import Foundation
import Hummingbird
import NIOCore
import OpenAPIRuntime

/// `/projects/{p}/backups/{id}`: one backup with its chain and last verification; verify and
/// restore for the instance admin (the only one the API lets do them).
struct BackupDetailPage: Sendable {
    let environment: ConsoleEnvironment

    struct Model: Sendable {
        var project: String
        var backup: BackupsModel.BackupRow
        var chain: [ChainLink]
        var snapshotID: String
        var postgresVersion: String
        var isAdmin: Bool
        var verifyAction: String
        var verifyCLI: String
        var deleteAction: String
        var deleteCLI: String
        var downloadHref: String
        var downloadCLI: String
        var restoreHref: String
        var diffHref: String
        var backHref: String
    }

    struct ChainLink: Sendable {
        var id: String
        var href: String
        var role: String
        var current: Bool
    }

    static func href(project: String, backup: String) -> String {
        "/projects/\(ConsolePath.segment(project))/backups/\(ConsolePath.segment(backup))"
    }

    /// The project's backups as the listing gives them (a viewer may read these; getBackup is admin-only).
    static func backups(of project: String, environment: ConsoleEnvironment) async throws -> Components.Schemas.BackupList {
        try await environment.call("listBackups", project: project) { try await $0.listBackups(.init(query: .init(project: project))).ok.body.json }
    }

    /// 404 unless `backup` is one of `project`'s: a backup id in another project's URL shows nothing.
    static func requireBackup(_ backup: String, of project: String, environment: ConsoleEnvironment) async throws {
        guard try await backups(of: project, environment: environment).backups.contains(where: { $0.id == backup }) else {
            throw ConsoleFailure.notFound("Backup \(backup)")
        }
    }

    static func filename(project: String, backup: String) -> String {
        "\(project)-\(backup).sql".filter { $0.isLetter || $0.isNumber || "-_.".contains($0) }
    }

    /// `download.sql`: the backup's database as pg_dump's SQL, streamed as the service reads it from
    /// a throw-away server (an error before the first byte is an error page; the download is audited).
    func download(project: String, backup id: String) async throws -> Response {
        try await Self.requireBackup(id, of: project, environment: environment)
        let body = try await environment.call("exportBackup", project: project, changes: true, target: "backup \(id)") { api -> HTTPBody in
            switch try await api.exportBackup(.init(path: .init(backup: id), query: .init(format: "sql"))).ok.body {
            case .applicationSql(let sql): sql
            case .applicationXNdjson(let lines): lines
            }
        }
        let stream = ResponseBody { writer in
            do {
                for try await chunk in body { try await writer.write(ByteBuffer(bytes: chunk)) }
            } catch {}
            try? await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/sql; charset=utf-8", .cacheControl: "no-store",
                .contentDisposition: "attachment; filename=\"\(Self.filename(project: project, backup: id))\"",
            ],
            body: stream)
    }

    func render(project: String, backup id: String) async throws -> Response {
        let session = try ConsoleSession.required()
        let list = try await Self.backups(of: project, environment: environment)
        guard let backup = list.backups.first(where: { $0.id == id }) else { throw ConsoleFailure.notFound("Backup \(id)") }
        let byID = Dictionary(list.backups.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let chain = BackupsRows.chain(of: backup, in: byID)
        let verification = list.verifications?.first { $0.project == project && $0.backup == id }
        let model = Model(
            project: project, backup: BackupsRows.row(backup, chain: chain, verification: verification, project: project, keys: ServiceKeys(list)),
            chain: chain.enumerated().map { index, link in
                .init(id: link, href: Self.href(project: project, backup: link), role: index == 0 ? "full" : "incremental", current: link == id)
            },
            snapshotID: backup.snapshotID, postgresVersion: backup.postgresVersion ?? "—", isAdmin: session.viewer.isInstanceAdmin,
            verifyAction: Self.href(project: project, backup: id) + "/verify", verifyCLI: "branch backup verify \(id)",
            deleteAction: Self.href(project: project, backup: id) + "/delete", deleteCLI: "branch backup delete \(id)",
            downloadHref: Self.href(project: project, backup: id) + "/download.sql", downloadCLI: "branch backup export \(id) > \(Self.filename(project: project, backup: id))",
            restoreHref: RestorePages.href(project: project, restore: "backup:\(id)"),
            diffHref: "/projects/\(ConsolePath.segment(project))/diff?from=\(FormFields.encode("backup:\(id)"))&to=\(FormFields.encode(backup.branch))",
            backHref: BackupsPages.href(project: project, branch: nil))
        return try await environment.page(
            "backups-detail", title: "Backup \(id)", project: project, branch: backup.branch, section: .backups,
            cli: "branch backup show \(id)", body: model)
    }
}
