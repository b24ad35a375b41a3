import BranchAPI
import BranchCore
import BranchEngine
import Foundation
import Hummingbird
import NIOCore

/// The handler of every `APIRoute`, by operation id.
struct APIHandlers: Sendable {
    typealias Handler = @Sendable (Request, BasicRequestContext) async throws -> Response

    let engine: Engine

    var all: [String: Handler] {
        [
            APIRoute.health.operationID: { _, _ in try JSONResponse.make(HealthResponse(status: "ok", version: Engine.version)) },
            APIRoute.openAPI.operationID: { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.text())))
            },
            APIRoute.status.operationID: { _, _ in try JSONResponse.make(try await engine.status()) },
            APIRoute.listOperations.operationID: { request, _ in
                let project = request.uri.queryParameters.get("project")
                let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 50
                return try JSONResponse.make(try await engine.operations(project: project, limit: limit))
            },

            APIRoute.listEvents.operationID: { request, _ in
                let project = request.uri.queryParameters.get("project")
                let limit = request.uri.queryParameters.get("limit").flatMap { Int($0) } ?? 100
                return try JSONResponse.make(try await engine.events(project: project, limit: limit))
            },
            APIRoute.metrics.operationID: { request, _ in
                let query = request.uri.queryParameters
                let minutes = query.get("minutes").flatMap { Int($0) } ?? 60
                return try JSONResponse.make(await engine.metrics(project: query.get("project"), branch: query.get("branch"), minutes: minutes))
            },
            APIRoute.prometheus.operationID: { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: await engine.prometheusText())))
            },

            APIRoute.listBackups.operationID: { request, _ in
                try JSONResponse.make(try await engine.listBackups(
                    project: request.uri.queryParameters.get("project"), remote: Self.flag("remote", request)))
            },
            APIRoute.getBackup.operationID: { _, context in
                try JSONResponse.make(try await engine.backup(try context.parameters.require("backup")))
            },
            APIRoute.deleteBackup.operationID: { _, context in
                try JSONResponse.make(try await engine.deleteBackup(try context.parameters.require("backup")))
            },
            APIRoute.restoreBackup.operationID: { request, context in
                let body = try await Self.decode(RestoreBackupRequest.self, request)
                return try JSONResponse.make(try await engine.restoreBackup(try context.parameters.require("backup"), body), status: 202)
            },
            APIRoute.verifyBackup.operationID: { _, context in
                try JSONResponse.make(try await engine.verifyBackup(try context.parameters.require("backup")), status: 202)
            },
            APIRoute.getJob.operationID: { _, context in
                try JSONResponse.make(try await engine.job(try context.parameters.require("job")))
            },

            APIRoute.listProjects.operationID: { _, _ in try JSONResponse.make(try await engine.listProjects()) },
            APIRoute.createProject.operationID: { request, _ in
                let body = try await Self.decode(CreateProjectRequest.self, request)
                return try JSONResponse.make(try await engine.createProject(body), status: 201)
            },
            APIRoute.getProject.operationID: { _, context in
                try JSONResponse.make(try await engine.project(try context.parameters.require("project")))
            },
            APIRoute.updateProject.operationID: { request, context in
                let body = try await Self.decode(ProjectSettings.self, request)
                return try JSONResponse.make(try await engine.updateProject(try context.parameters.require("project"), body))
            },
            APIRoute.deleteProject.operationID: { request, context in
                try JSONResponse.make(try await engine.deleteProject(try context.parameters.require("project"), force: Self.flag("force", request)))
            },
            APIRoute.projectConnection.operationID: { _, context in
                try JSONResponse.make(try await engine.projectConnection(try context.parameters.require("project")))
            },
            APIRoute.checkout.operationID: { request, context in
                let body = try await Self.decode(CheckoutRequest.self, request)
                return try JSONResponse.make(try await engine.checkout(project: try context.parameters.require("project"), body))
            },

            APIRoute.listBranches.operationID: { _, context in
                try JSONResponse.make(try await engine.listBranches(project: try context.parameters.require("project")))
            },
            APIRoute.createBranch.operationID: { request, context in
                let body = try await Self.decode(CreateBranchRequest.self, request)
                return try JSONResponse.make(try await engine.createBranch(project: try context.parameters.require("project"), body), status: 201)
            },
            APIRoute.getBranch.operationID: { _, context in
                try JSONResponse.make(try await engine.branch(project: try context.parameters.require("project"), try context.parameters.require("branch")))
            },
            APIRoute.deleteBranch.operationID: { request, context in
                try JSONResponse.make(try await engine.deleteBranch(
                    project: try context.parameters.require("project"), try context.parameters.require("branch"), force: Self.flag("force", request)))
            },
            APIRoute.resetBranch.operationID: { _, context in
                try JSONResponse.make(try await engine.resetBranch(project: try context.parameters.require("project"), try context.parameters.require("branch")))
            },
            APIRoute.startBranch.operationID: { _, context in
                try JSONResponse.make(try await engine.startBranch(project: try context.parameters.require("project"), try context.parameters.require("branch")))
            },
            APIRoute.stopBranch.operationID: { _, context in
                try JSONResponse.make(try await engine.stopBranch(project: try context.parameters.require("project"), try context.parameters.require("branch")))
            },
            APIRoute.branchConnection.operationID: { request, context in
                try JSONResponse.make(try await engine.branchConnection(
                    project: try context.parameters.require("project"), try context.parameters.require("branch"),
                    pooled: Self.flag("pooled", request)))
            },
            APIRoute.exportBranch.operationID: { request, context in
                let query = request.uri.queryParameters
                let stream = try await engine.export(
                    project: try context.parameters.require("project"), branch: try context.parameters.require("branch"),
                    format: query.get("format") ?? "sql", table: query.get("table"))
                let contentType = query.get("format") == "json" ? "application/x-ndjson" : "application/sql; charset=utf-8"
                return Response(
                    status: .ok, headers: [.contentType: contentType],
                    body: ResponseBody(asyncSequence: stream.map { ByteBuffer(bytes: $0) }))
            },
            APIRoute.branchLogs.operationID: { request, context in
                let lines = request.uri.queryParameters.get("lines").flatMap { Int($0) } ?? 100
                let stream = try await engine.logs(
                    project: try context.parameters.require("project"), branch: try context.parameters.require("branch"), lines: lines,
                    follow: Self.flag("follow", request))
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                    body: ResponseBody(asyncSequence: stream.map { ByteBuffer(string: $0) }))
            },

            APIRoute.createBackup.operationID: { request, context in
                let body = try await Self.decode(CreateBackupRequest.self, request, emptyAllowed: true) ?? CreateBackupRequest()
                return try JSONResponse.make(try await engine.createBackup(project: try context.parameters.require("project"), body), status: 202)
            },
            APIRoute.listSchedules.operationID: { _, context in
                try JSONResponse.make(try await engine.schedules(project: try context.parameters.require("project")))
            },
            APIRoute.setSchedule.operationID: { request, context in
                let body = try await Self.decode(ScheduleRequest.self, request)
                return try JSONResponse.make(try await engine.setSchedule(
                    project: try context.parameters.require("project"), kind: try context.parameters.require("kind"), body))
            },
            APIRoute.deleteSchedule.operationID: { _, context in
                try JSONResponse.make(try await engine.deleteSchedule(
                    project: try context.parameters.require("project"), kind: try context.parameters.require("kind")))
            },
            APIRoute.diff.operationID: { request, context in
                let body = try await Self.decode(DiffRequest.self, request)
                let session = try await engine.openDiff(project: try context.parameters.require("project"), body)
                return Response(
                    status: .ok, headers: [.contentType: "application/x-ndjson"],
                    body: ResponseBody { writer in
                        // Lines go out in pieces of about 64 KiB: one write per line floods the connection's event
                        // loop with tasks, and NIO serves no other connection on that loop until its task queue is
                        // empty (a diff of 3 M rows stalled every second request for minutes). The next segment is
                        // read only after a full piece is written: a slow reader slows the diff, memory stays flat.
                        var pending = ByteBuffer()
                        func append(_ line: DiffLine) throws {
                            var encoded = try Self.ndjson(line)
                            pending.writeBuffer(&encoded)
                        }
                        do {
                            try await session.run { line in
                                try append(line)
                                if pending.readableBytes >= Self.streamPieceSize {
                                    try await writer.write(pending)
                                    pending.clear()
                                }
                            }
                        } catch let error as any ReportableError {
                            try append(DiffLine(type: "error", error: .init(code: error.code.rawValue, message: error.message, hint: error.hint)))
                        } catch {
                            try append(DiffLine(type: "error", error: .init(code: "internal_error", message: "\(error)")))
                        }
                        if pending.readableBytes > 0 { try await writer.write(pending) }
                        try await writer.finish(nil)
                    })
            },
            APIRoute.merge.operationID: { request, context in
                let body = try await Self.decode(MergeRequest.self, request)
                return try JSONResponse.make(try await engine.merge(project: try context.parameters.require("project"), body))
            },
            APIRoute.listSnapshots.operationID: { _, context in
                try JSONResponse.make(try await engine.listSnapshots(project: try context.parameters.require("project")))
            },
            APIRoute.createSnapshot.operationID: { request, context in
                let body = try await Self.decode(CreateSnapshotRequest.self, request, emptyAllowed: true) ?? CreateSnapshotRequest()
                return try JSONResponse.make(try await engine.createSnapshot(project: try context.parameters.require("project"), body), status: 201)
            },
            APIRoute.getSnapshot.operationID: { _, context in
                try JSONResponse.make(try await engine.snapshot(project: try context.parameters.require("project"), try context.parameters.require("snapshot")))
            },
            APIRoute.deleteSnapshot.operationID: { _, context in
                try JSONResponse.make(try await engine.deleteSnapshot(
                    project: try context.parameters.require("project"), try context.parameters.require("snapshot")))
            },
            APIRoute.restoreSnapshot.operationID: { request, context in
                let body = try await Self.decode(RestoreRequest.self, request)
                let result = try await engine.restoreSnapshot(
                    project: try context.parameters.require("project"), try context.parameters.require("snapshot"), body)
                return try JSONResponse.make(result)
            },
        ]
    }

    /// How many bytes of a line stream are gathered before one write.
    static let streamPieceSize = 64 << 10

    static func ndjson<T: Encodable>(_ value: T) throws -> ByteBuffer {
        var data = try JSONEncoder.api.encode(value)
        data.append(UInt8(ascii: "\n"))
        return ByteBuffer(bytes: data)
    }

    static func flag(_ name: String, _ request: Request) -> Bool {
        guard let value = request.uri.queryParameters.get(name) else { return false }
        return ["1", "true", "yes"].contains(value.lowercased())
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        guard let value = try await decode(type, request, emptyAllowed: false) else {
            throw BadRequest(message: "The request needs a JSON body.")
        }
        return value
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, emptyAllowed: Bool) async throws -> T? {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: 1 << 20)
        } catch {
            throw BadRequest(code: .payloadTooLarge, message: "The request body is larger than 1 MiB.")
        }
        if buffer.readableBytes == 0 {
            if emptyAllowed { return nil }
            throw BadRequest(message: "The request needs a JSON body.")
        }
        do {
            return try JSONDecoder.api.decode(T.self, from: Data(buffer.readableBytesView))
        } catch let DecodingError.keyNotFound(key, _) {
            throw BadRequest(message: "The JSON body is missing '\(key.stringValue)'.")
        } catch let DecodingError.typeMismatch(_, context) {
            throw BadRequest(message: "A field of the JSON body has the wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'.")
        } catch {
            throw BadRequest(message: "The request body is not valid JSON for this endpoint.")
        }
    }

    struct BadRequest: ReportableError {
        var code = ErrorCode.invalidRequest
        let message: String
        var hint: String? { "See the OpenAPI document at /api/v1/openapi.json." }
    }
}
