import BranchAPI
import BranchCore
@testable import BranchServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import OpenAPIRuntime
import Testing

/// Every operation of the document, refused: a stub overrides the few a test needs.
protocol StubAPI: APIProtocol {}

enum StubError: Error { case notServed }

extension StubAPI {
    func checkout(_ input: Operations.Checkout.Input) async throws -> Operations.Checkout.Output { throw StubError.notServed }
    func createBackup(_ input: Operations.CreateBackup.Input) async throws -> Operations.CreateBackup.Output { throw StubError.notServed }
    func createBranch(_ input: Operations.CreateBranch.Input) async throws -> Operations.CreateBranch.Output { throw StubError.notServed }
    func createProject(_ input: Operations.CreateProject.Input) async throws -> Operations.CreateProject.Output { throw StubError.notServed }
    func importProject(_ input: Operations.ImportProject.Input) async throws -> Operations.ImportProject.Output { throw StubError.notServed }
    func createSnapshot(_ input: Operations.CreateSnapshot.Input) async throws -> Operations.CreateSnapshot.Output { throw StubError.notServed }
    func deleteBackup(_ input: Operations.DeleteBackup.Input) async throws -> Operations.DeleteBackup.Output { throw StubError.notServed }
    func deleteBranch(_ input: Operations.DeleteBranch.Input) async throws -> Operations.DeleteBranch.Output { throw StubError.notServed }
    func deleteProject(_ input: Operations.DeleteProject.Input) async throws -> Operations.DeleteProject.Output { throw StubError.notServed }
    func deleteSchedule(_ input: Operations.DeleteSchedule.Input) async throws -> Operations.DeleteSchedule.Output { throw StubError.notServed }
    func deleteSnapshot(_ input: Operations.DeleteSnapshot.Input) async throws -> Operations.DeleteSnapshot.Output { throw StubError.notServed }
    func diff(_ input: Operations.Diff.Input) async throws -> Operations.Diff.Output { throw StubError.notServed }
    func exportBranch(_ input: Operations.ExportBranch.Input) async throws -> Operations.ExportBranch.Output { throw StubError.notServed }
    func pushTable(_ input: Operations.PushTable.Input) async throws -> Operations.PushTable.Output { throw StubError.notServed }
    func getAlerts(_ input: Operations.GetAlerts.Input) async throws -> Operations.GetAlerts.Output { throw StubError.notServed }
    func exportBackup(_ input: Operations.ExportBackup.Input) async throws -> Operations.ExportBackup.Output { throw StubError.notServed }
    func getBackup(_ input: Operations.GetBackup.Input) async throws -> Operations.GetBackup.Output { throw StubError.notServed }
    func getBranch(_ input: Operations.GetBranch.Input) async throws -> Operations.GetBranch.Output { throw StubError.notServed }
    func getBranchConnection(_ input: Operations.GetBranchConnection.Input) async throws -> Operations.GetBranchConnection.Output { throw StubError.notServed }
    func getBranchLogs(_ input: Operations.GetBranchLogs.Input) async throws -> Operations.GetBranchLogs.Output { throw StubError.notServed }
    func getJob(_ input: Operations.GetJob.Input) async throws -> Operations.GetJob.Output { throw StubError.notServed }
    func getMetrics(_ input: Operations.GetMetrics.Input) async throws -> Operations.GetMetrics.Output { throw StubError.notServed }
    func getProject(_ input: Operations.GetProject.Input) async throws -> Operations.GetProject.Output { throw StubError.notServed }
    func getProjectConnection(_ input: Operations.GetProjectConnection.Input) async throws -> Operations.GetProjectConnection.Output { throw StubError.notServed }
    func getProjectKeys(_ input: Operations.GetProjectKeys.Input) async throws -> Operations.GetProjectKeys.Output { throw StubError.notServed }
    func getSnapshot(_ input: Operations.GetSnapshot.Input) async throws -> Operations.GetSnapshot.Output { throw StubError.notServed }
    func getStatus(_ input: Operations.GetStatus.Input) async throws -> Operations.GetStatus.Output { throw StubError.notServed }
    func health(_ input: Operations.Health.Input) async throws -> Operations.Health.Output { throw StubError.notServed }
    func listBackups(_ input: Operations.ListBackups.Input) async throws -> Operations.ListBackups.Output { throw StubError.notServed }
    func removeAlertChannel(_ input: Operations.RemoveAlertChannel.Input) async throws -> Operations.RemoveAlertChannel.Output { throw StubError.notServed }
    func setAlertChannel(_ input: Operations.SetAlertChannel.Input) async throws -> Operations.SetAlertChannel.Output { throw StubError.notServed }
    func setAlertSettings(_ input: Operations.SetAlertSettings.Input) async throws -> Operations.SetAlertSettings.Output { throw StubError.notServed }
    func testAlerts(_ input: Operations.TestAlerts.Input) async throws -> Operations.TestAlerts.Output { throw StubError.notServed }
    func getAuthSettings(_ input: Operations.GetAuthSettings.Input) async throws -> Operations.GetAuthSettings.Output { throw StubError.notServed }
    func setAuthSettings(_ input: Operations.SetAuthSettings.Input) async throws -> Operations.SetAuthSettings.Output { throw StubError.notServed }
    func testAuthMail(_ input: Operations.TestAuthMail.Input) async throws -> Operations.TestAuthMail.Output { throw StubError.notServed }
    func listAuthProviders(_ input: Operations.ListAuthProviders.Input) async throws -> Operations.ListAuthProviders.Output { throw StubError.notServed }
    func setAuthProvider(_ input: Operations.SetAuthProvider.Input) async throws -> Operations.SetAuthProvider.Output { throw StubError.notServed }
    func removeAuthProvider(_ input: Operations.RemoveAuthProvider.Input) async throws -> Operations.RemoveAuthProvider.Output { throw StubError.notServed }
    func listBranches(_ input: Operations.ListBranches.Input) async throws -> Operations.ListBranches.Output { throw StubError.notServed }
    func listEvents(_ input: Operations.ListEvents.Input) async throws -> Operations.ListEvents.Output { throw StubError.notServed }
    func listOperations(_ input: Operations.ListOperations.Input) async throws -> Operations.ListOperations.Output { throw StubError.notServed }
    func listProjects(_ input: Operations.ListProjects.Input) async throws -> Operations.ListProjects.Output { throw StubError.notServed }
    func listSchedules(_ input: Operations.ListSchedules.Input) async throws -> Operations.ListSchedules.Output { throw StubError.notServed }
    func listSnapshots(_ input: Operations.ListSnapshots.Input) async throws -> Operations.ListSnapshots.Output { throw StubError.notServed }
    func merge(_ input: Operations.Merge.Input) async throws -> Operations.Merge.Output { throw StubError.notServed }
    func openapi(_ input: Operations.Openapi.Input) async throws -> Operations.Openapi.Output { throw StubError.notServed }
    func prometheusMetrics(_ input: Operations.PrometheusMetrics.Input) async throws -> Operations.PrometheusMetrics.Output { throw StubError.notServed }
    func resetBranch(_ input: Operations.ResetBranch.Input) async throws -> Operations.ResetBranch.Output { throw StubError.notServed }
    func renameBranch(_ input: Operations.RenameBranch.Input) async throws -> Operations.RenameBranch.Output { throw StubError.notServed }
    func updateSnapshot(_ input: Operations.UpdateSnapshot.Input) async throws -> Operations.UpdateSnapshot.Output { throw StubError.notServed }
    func updateBranch(_ input: Operations.UpdateBranch.Input) async throws -> Operations.UpdateBranch.Output { throw StubError.notServed }
    func restoreBackup(_ input: Operations.RestoreBackup.Input) async throws -> Operations.RestoreBackup.Output { throw StubError.notServed }
    func restoreSnapshot(_ input: Operations.RestoreSnapshot.Input) async throws -> Operations.RestoreSnapshot.Output { throw StubError.notServed }
    func rotateProjectKeys(_ input: Operations.RotateProjectKeys.Input) async throws -> Operations.RotateProjectKeys.Output { throw StubError.notServed }
    func revokeProjectKey(_ input: Operations.RevokeProjectKey.Input) async throws -> Operations.RevokeProjectKey.Output { throw StubError.notServed }
    func setSchedule(_ input: Operations.SetSchedule.Input) async throws -> Operations.SetSchedule.Output { throw StubError.notServed }
    func startBranch(_ input: Operations.StartBranch.Input) async throws -> Operations.StartBranch.Output { throw StubError.notServed }
    func stopBranch(_ input: Operations.StopBranch.Input) async throws -> Operations.StopBranch.Output { throw StubError.notServed }
    func updateProject(_ input: Operations.UpdateProject.Input) async throws -> Operations.UpdateProject.Output { throw StubError.notServed }
    func verifyBackup(_ input: Operations.VerifyBackup.Input) async throws -> Operations.VerifyBackup.Output { throw StubError.notServed }
    func revealBackupKey(_ input: Operations.RevealBackupKey.Input) async throws -> Operations.RevealBackupKey.Output { throw StubError.notServed }
    func rotateBackupKey(_ input: Operations.RotateBackupKey.Input) async throws -> Operations.RotateBackupKey.Output { throw StubError.notServed }
    func acknowledgeBackupKey(_ input: Operations.AcknowledgeBackupKey.Input) async throws -> Operations.AcknowledgeBackupKey.Output {
        throw StubError.notServed
    }
    func getVersion(_ input: Operations.GetVersion.Input) async throws -> Operations.GetVersion.Output { throw StubError.notServed }
    func upgrade(_ input: Operations.Upgrade.Input) async throws -> Operations.Upgrade.Output { throw StubError.notServed }
    func upgradePostgres(_ input: Operations.UpgradePostgres.Input) async throws -> Operations.UpgradePostgres.Output {
        throw StubError.notServed
    }
    func runSQL(_ input: Operations.RunSQL.Input) async throws -> Operations.RunSQL.Output { throw StubError.notServed }
    func querySQL(_ input: Operations.QuerySQL.Input) async throws -> Operations.QuerySQL.Output { throw StubError.notServed }
    func adminQuery(_ input: Operations.AdminQuery.Input) async throws -> Operations.AdminQuery.Output { throw StubError.notServed }
    func listSnippets(_ input: Operations.ListSnippets.Input) async throws -> Operations.ListSnippets.Output { throw StubError.notServed }
    func saveSnippet(_ input: Operations.SaveSnippet.Input) async throws -> Operations.SaveSnippet.Output { throw StubError.notServed }
    func deleteSnippet(_ input: Operations.DeleteSnippet.Input) async throws -> Operations.DeleteSnippet.Output { throw StubError.notServed }
    func listMigrations(_ input: Operations.ListMigrations.Input) async throws -> Operations.ListMigrations.Output { throw StubError.notServed }
    func applyMigration(_ input: Operations.ApplyMigration.Input) async throws -> Operations.ApplyMigration.Output { throw StubError.notServed }
    func rollbackMigration(_ input: Operations.RollbackMigration.Input) async throws -> Operations.RollbackMigration.Output {
        throw StubError.notServed
    }
    func login(_ input: Operations.Login.Input) async throws -> Operations.Login.Output { throw StubError.notServed }
    func whoAmI(_ input: Operations.WhoAmI.Input) async throws -> Operations.WhoAmI.Output { throw StubError.notServed }
    func listUsers(_ input: Operations.ListUsers.Input) async throws -> Operations.ListUsers.Output { throw StubError.notServed }
    func createUser(_ input: Operations.CreateUser.Input) async throws -> Operations.CreateUser.Output { throw StubError.notServed }
    func deleteUser(_ input: Operations.DeleteUser.Input) async throws -> Operations.DeleteUser.Output { throw StubError.notServed }
    func setPassword(_ input: Operations.SetPassword.Input) async throws -> Operations.SetPassword.Output { throw StubError.notServed }
    func listMembers(_ input: Operations.ListMembers.Input) async throws -> Operations.ListMembers.Output { throw StubError.notServed }
    func setMember(_ input: Operations.SetMember.Input) async throws -> Operations.SetMember.Output { throw StubError.notServed }
    func removeMember(_ input: Operations.RemoveMember.Input) async throws -> Operations.RemoveMember.Output { throw StubError.notServed }
    func listTokens(_ input: Operations.ListTokens.Input) async throws -> Operations.ListTokens.Output { throw StubError.notServed }
    func createToken(_ input: Operations.CreateToken.Input) async throws -> Operations.CreateToken.Output { throw StubError.notServed }
    func revokeToken(_ input: Operations.RevokeToken.Input) async throws -> Operations.RevokeToken.Output { throw StubError.notServed }
    func listAudit(_ input: Operations.ListAudit.Input) async throws -> Operations.ListAudit.Output { throw StubError.notServed }
}

/// Answers project lookups the way the engine does: `demo` exists, anything else is not found.
struct ProjectsStub: StubAPI {
    func getProject(_ input: Operations.GetProject.Input) async throws -> Operations.GetProject.Output {
        guard input.path.project == "demo" else {
            throw TestError(code: .projectNotFound, message: "There is no project '\(input.path.project)'.", hint: "List projects.")
        }
        return .ok(.init(body: .json(.init(
            branches: 1, checkedOut: "main", createdAt: Date(timeIntervalSince1970: 0), database: "demo", name: "demo", poolerHost: "h",
            poolerPort: 6432, postgresMajor: 15, protectNewBranches: false, retentionDays: 7, role: "demo", snapshots: 0, suspendAfterSeconds: 900,
            suspendMainAfterSeconds: 0))))
    }

    func health(_ input: Operations.Health.Input) async throws -> Operations.Health.Output {
        .ok(.init(body: .json(.init(status: "ok", version: "test"))))
    }

    func createSnapshot(_ input: Operations.CreateSnapshot.Input) async throws -> Operations.CreateSnapshot.Output {
        // Echoes what it was given: an empty body means no body.
        var name = "none"
        if case .json(let body)? = input.body { name = body.name ?? "unnamed" }
        throw TestError(code: .snapshotExists, message: "got \(name)", hint: nil)
    }

    func deleteProject(_ input: Operations.DeleteProject.Input) async throws -> Operations.DeleteProject.Output {
        throw TestError(code: .projectHasBranches, message: "force=\(input.query.force.map(String.init) ?? "nil")", hint: nil)
    }

    func setSchedule(_ input: Operations.SetSchedule.Input) async throws -> Operations.SetSchedule.Output {
        throw TestError(code: .conflict, message: "unreachable", hint: nil)
    }
}

struct TestError: ReportableError {
    var code: ErrorCode
    var message: String
    var hint: String?
}

extension ErrorCode { static var conflict: ErrorCode { .catalogConflict } }

@Suite("HTTP layer")
struct HTTPLayerTests {
    static let key = "bk_test"

    func withApp(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: try APIServer.router(api: ProjectsStub(), adminKey: Self.key))
        try await app.test(.router) { client in try await body(client) }
    }

    var auth: HTTPFields { [.authorization: "Bearer \(Self.key)"] }

    func error(_ response: TestResponse) throws -> (code: String, message: String) {
        let body = try JSONDecoder().decode(Components.Schemas.ErrorBody.self, from: Data(response.body.readableBytesView))
        return (body.error.code, body.error.message)
    }

    @Test("no key, a wrong key: 401 unauthorized; the health check needs none")
    func authentication() async throws {
        try await withApp { client in
            let missing = try await client.execute(uri: "/api/v1/projects/demo", method: .get)
            #expect(missing.status == .unauthorized)
            #expect(try error(missing).code == "unauthorized")
            let wrong = try await client.execute(uri: "/api/v1/projects/demo", method: .get, headers: [.authorization: "Bearer nope"])
            #expect(wrong.status == .unauthorized)
            let health = try await client.execute(uri: "/api/v1/health", method: .get)
            #expect(health.status == .ok)
        }
    }

    @Test("an engine error becomes its category's status and the error body")
    func engineErrors() async throws {
        try await withApp { client in
            let response = try await client.execute(uri: "/api/v1/projects/nope", method: .get, headers: auth)
            #expect(response.status == .notFound)
            #expect(try error(response) == ("project_not_found", "There is no project 'nope'."))
            let ok = try await client.execute(uri: "/api/v1/projects/demo", method: .get, headers: auth)
            #expect(ok.status == .ok)
        }
    }

    @Test("unknown routes are 404 not_found in the error body")
    func unknownRoute() async throws {
        try await withApp { client in
            let response = try await client.execute(uri: "/api/v1/nothing-here", method: .get, headers: auth)
            #expect(response.status == .notFound)
            #expect(try error(response).code == "not_found")
        }
    }

    @Test("bad JSON, a missing field, a wrong type: 400 invalid_request naming the problem")
    func badBodies() async throws {
        try await withApp { client in
            var headers = auth
            headers[.contentType] = "application/json"
            let broken = try await client.execute(
                uri: "/api/v1/projects/demo/schedules/snapshot", method: .put, headers: headers, body: ByteBuffer(string: "{bad"))
            #expect(broken.status == .badRequest)
            #expect(try error(broken).code == "invalid_request")
            let missing = try await client.execute(
                uri: "/api/v1/projects/demo/schedules/snapshot", method: .put, headers: headers, body: ByteBuffer(string: "{}"))
            #expect(missing.status == .badRequest)
            #expect(try error(missing).message.contains("expression"))
            let wrongType = try await client.execute(
                uri: "/api/v1/projects/demo/schedules/snapshot", method: .put, headers: headers,
                body: ByteBuffer(string: #"{"expression": "@daily", "hourly": "many"}"#))
            #expect(wrongType.status == .badRequest)
            #expect(try error(wrongType).message.contains("hourly"))
        }
    }

    @Test("a body over 1 MiB is refused with 413 payload_too_large")
    func bodyLimit() async throws {
        try await withApp { client in
            var headers = auth
            headers[.contentType] = "application/json"
            let big = ByteBuffer(repeating: UInt8(ascii: " "), count: (1 << 20) + 1)
            let response = try await client.execute(uri: "/api/v1/projects/demo/schedules/snapshot", method: .put, headers: headers, body: big)
            #expect(response.status == .contentTooLarge)
            #expect(try error(response).code == "payload_too_large")
        }
    }

    @Test("an optional body may be empty; boolean flags take 1, yes and true")
    func lenientRequests() async throws {
        try await withApp { client in
            let empty = try await client.execute(uri: "/api/v1/projects/demo/snapshots", method: .post, headers: auth)
            #expect(try error(empty).message == "got none")
            for (flag, expected) in [("1", "true"), ("yes", "true"), ("true", "true"), ("0", "false"), ("", "false")] {
                let response = try await client.execute(uri: "/api/v1/projects/demo?force=\(flag)", method: .delete, headers: auth)
                #expect(try error(response).message == "force=\(expected)", "force=\(flag)")
            }
        }
    }

    @Test("an unexpected error is a 500 with a request id, its text only in the log")
    func unexpected() async throws {
        try await withApp { client in
            let response = try await client.execute(uri: "/api/v1/projects", method: .get, headers: auth)
            #expect(response.status == .internalServerError)
            let body = try JSONDecoder().decode(Components.Schemas.ErrorBody.self, from: Data(response.body.readableBytesView))
            #expect(body.error.code == "internal_error")
            #expect(body.error.requestId != nil)
            #expect(!body.error.message.contains("notServed"))
        }
    }
}
