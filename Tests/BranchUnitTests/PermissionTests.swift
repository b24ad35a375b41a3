import BranchAPI
import BranchCatalog
@testable import BranchCLI
@testable import BranchEngine
@testable import BranchServer
import Foundation
import Testing

/// The permission table covers the whole API, and a principal's role follows its user and token.
@Suite struct PermissionTests {
    @Test func everyDocumentedOperationHasARule() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(APIDocument.text.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let operations = paths.values.flatMap { $0.values.compactMap { ($0 as? [String: Any])?["operationId"] as? String } }
        #expect(operations.count > 50)
        for operation in operations {
            #expect(Permission.operations[operation] != nil, "\(operation) has no permission rule")
        }
        #expect(Set(Permission.operations.keys).subtracting(operations).isEmpty, "rules for operations the document lacks")
        for operation in Permission.projectKeyOperations { #expect(operations.contains(operation)) }
        // Only health and login are open.
        #expect(Set(Permission.operations.filter { $0.value == .open }.keys) == ["health", "login"])
    }

    static func principal(admin: Bool = false, roles: [String: ProjectRole] = [:], scope: (String, ProjectRole)? = nil) -> Principal {
        let user = UserRecord(id: "u1", email: "a@b.c", passwordHash: "", isAdmin: admin, createdAt: Date())
        let token = TokenRecord(
            id: "tk_1", userID: "u1", hash: "", name: "t", project: scope?.0, role: scope?.1, createdAt: Date(), expiresAt: nil)
        return Principal(user: user, token: token, memberships: roles)
    }

    @Test func rolesFollowMembershipsAndTokenScopes() {
        let developer = Self.principal(roles: ["app": .developer])
        #expect(developer.role(in: "app") == .developer)
        #expect(developer.role(in: "other") == nil)
        #expect(developer.may(.viewer, in: "app") && developer.may(.developer, in: "app") && !developer.may(.owner, in: "app"))
        #expect(!developer.isInstanceAdmin)

        let scoped = Self.principal(roles: ["app": .owner, "other": .owner], scope: ("app", .viewer))
        #expect(scoped.role(in: "app") == .viewer, "a scoped token never exceeds its role")
        #expect(scoped.role(in: "other") == nil, "nor its project")

        let admin = Self.principal(admin: true)
        #expect(admin.isInstanceAdmin && admin.role(in: "anything") == .owner)
        let scopedAdmin = Self.principal(admin: true, scope: ("app", .developer))
        #expect(!scopedAdmin.isInstanceAdmin && scopedAdmin.role(in: "app") == .developer && scopedAdmin.role(in: "x") == nil)
        #expect(ProjectRole.viewer < .developer && ProjectRole.developer < .owner)
    }

    @Test func checksByCaller() throws {
        let viewer = APICaller.principal(Self.principal(roles: ["app": .viewer]))
        try PermissionsMiddleware.check(viewer, operationID: "getProject", project: "app", pathProject: true)
        #expect(throws: APICaller.Forbidden.self) { try PermissionsMiddleware.check(viewer, operationID: "createBranch", project: "app", pathProject: true) }
        #expect(throws: EngineFacingError.self) { try PermissionsMiddleware.check(viewer, operationID: "getProject", project: "other", pathProject: true) }
        #expect(throws: APICaller.Forbidden.self) { try PermissionsMiddleware.check(viewer, operationID: "getStatus", project: nil, pathProject: false) }
        try PermissionsMiddleware.check(viewer, operationID: "listEvents", project: "app", pathProject: false)
        #expect(throws: APICaller.Forbidden.self) { try PermissionsMiddleware.check(viewer, operationID: "listEvents", project: nil, pathProject: false) }
        let key = APICaller.projectKey(token: "k", project: "app")
        try PermissionsMiddleware.check(key, operationID: "runSQL", project: "app", pathProject: true)
        #expect(throws: (any Error).self) { try PermissionsMiddleware.check(key, operationID: "runSQL", project: "other", pathProject: true) }
        #expect(throws: (any Error).self) { try PermissionsMiddleware.check(key, operationID: "deleteProject", project: "app", pathProject: true) }
        #expect(PermissionsMiddleware.queryProject("/api/v1/events?limit=5&project=my%20app") == "my app")
    }

    @Test func passwordsAndTokensAreHashed() async throws {
        // A low cost here (the format is what is checked): the real one would take both cores of a
        // small machine for a while and slow the timing tests that run beside this one.
        #expect(Passwords.rounds == 32_768 && Passwords.blockSize == 8 && Passwords.parallelism == 1)
        let hash = try await Passwords.hash("correct horse battery", rounds: 1024)
        #expect(hash.hasPrefix("scrypt$1024$8$1$") && !hash.contains("correct"))
        #expect(await Passwords.verify("correct horse battery", against: hash))
        #expect(await !Passwords.verify("wrong horse battery", against: hash))
        #expect(await !Passwords.verify("x", against: "not a hash"))
        let token = TokenText.generate()
        #expect(token.hasPrefix("bt_") && token.count == 43)
        #expect(TokenText.hash(token).count == 64 && TokenText.hash(token) != token)
        #expect(Lifetime.seconds("30d") == 2_592_000 && Lifetime.seconds("90m") == 5400 && Lifetime.seconds("x") == nil)
    }
}
