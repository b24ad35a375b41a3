import BranchAPI
import BranchCatalog
import BranchCore
import BranchEngine
import Foundation
import OpenAPIRuntime

// Users, project roles, management tokens and the audit log. What each may do is in
// `Permission.operations`; handlers narrow what they answer to the caller.
extension APIHandlers {
    func login(_ input: Operations.Login.Input) async throws -> Operations.Login.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let (issued, user) = try await engine.identities.signIn(
            email: body.email, password: body.password, address: RequestOrigin.clientAddress, name: body.tokenName,
            expiresIn: body.expiresInSeconds.map(TimeInterval.init))
        return .created(.init(body: .json(.init(info: .init(issued.record, email: user.email), token: issued.text))))
    }

    func whoAmI(_ input: Operations.WhoAmI.Input) async throws -> Operations.WhoAmI.Output {
        guard let principal = APICaller.current.principal else { return .ok(.init(body: .json(.init(kind: .projectKey)))) }
        let memberships = principal.memberships.map { MembershipRecord(userID: principal.user.id, project: $0.key, role: $0.value) }
        return .ok(.init(body: .json(.init(
            kind: .user, token: .init(principal.token, email: principal.user.email),
            user: .init(UserView(record: principal.user, memberships: memberships))))))
    }

    func listUsers(_ input: Operations.ListUsers.Input) async throws -> Operations.ListUsers.Output {
        .ok(.init(body: .json(.init(users: try await engine.identities.users().map(Schemas.UserInfo.init)))))
    }

    func createUser(_ input: Operations.CreateUser.Input) async throws -> Operations.CreateUser.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let (user, password) = try await engine.identities.createUser(email: body.email, password: body.password, admin: body.admin ?? false)
        return .created(.init(body: .json(.init(password: password, user: .init(user)))))
    }

    func deleteUser(_ input: Operations.DeleteUser.Input) async throws -> Operations.DeleteUser.Output {
        let user = try await engine.identities.deleteUser(email: input.path.email)
        return .ok(.init(body: .json(.init(UserView(record: user, memberships: [])))))
    }

    func setPassword(_ input: Operations.SetPassword.Input) async throws -> Operations.SetPassword.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        guard let caller = APICaller.current.principal else { throw APICaller.Forbidden(message: "Only a signed-in user can change a password.") }
        try await engine.identities.setPassword(email: input.path.email, password: body.password, caller: caller)
        let user = try await engine.identities.users().first { $0.record.email == input.path.email.lowercased() }
        guard let user else { throw EngineFacingError(code: .userNotFound, message: "There is no user \(input.path.email).", hint: nil) }
        return .ok(.init(body: .json(.init(user))))
    }

    func listMembers(_ input: Operations.ListMembers.Input) async throws -> Operations.ListMembers.Output {
        .ok(.init(body: .json(try await members(input.path.project))))
    }

    func setMember(_ input: Operations.SetMember.Input) async throws -> Operations.SetMember.Output {
        guard case .json(let body) = input.body else { throw APIInputError.body }
        let role = ProjectRole(rawValue: body.role.rawValue) ?? .viewer
        try await engine.identities.setMember(email: input.path.email, project: input.path.project, role: role)
        return .ok(.init(body: .json(try await members(input.path.project))))
    }

    func removeMember(_ input: Operations.RemoveMember.Input) async throws -> Operations.RemoveMember.Output {
        try await engine.identities.setMember(email: input.path.email, project: input.path.project, role: nil)
        return .ok(.init(body: .json(try await members(input.path.project))))
    }

    private func members(_ project: String) async throws -> Schemas.MemberList {
        .init(members: try await engine.identities.members(project: project).map { .init(email: $0.email, role: .init(rawValue: $0.role.rawValue)!) })
    }

    func listTokens(_ input: Operations.ListTokens.Input) async throws -> Operations.ListTokens.Output {
        let caller = try Self.user()
        return .ok(.init(body: .json(.init(tokens: try await engine.identities.tokens(for: caller).map { .init($0.token, email: $0.email) }))))
    }

    func createToken(_ input: Operations.CreateToken.Input) async throws -> Operations.CreateToken.Output {
        let caller = try Self.user()
        var body = Schemas.CreateTokenRequest()
        if case .json(let given)? = input.body { body = given }
        let issued = try await engine.identities.createToken(
            for: caller, name: body.name, project: body.project, role: body.role.flatMap { ProjectRole(rawValue: $0.rawValue) },
            expiresIn: body.expiresInSeconds.map(TimeInterval.init))
        return .created(.init(body: .json(.init(info: .init(issued.record, email: caller.user.email), token: issued.text))))
    }

    func revokeToken(_ input: Operations.RevokeToken.Input) async throws -> Operations.RevokeToken.Output {
        let caller = try Self.user()
        let revoked = try await engine.identities.revokeToken(id: input.path.token, caller: caller)
        return .ok(.init(body: .json(.init(revoked, email: caller.user.email))))
    }

    func listAudit(_ input: Operations.ListAudit.Input) async throws -> Operations.ListAudit.Output {
        let entries = try await engine.audit.entries(project: input.query.project, since: input.query.since, limit: input.query.limit ?? 1000)
        return .ok(.init(body: .json(.init(entries: entries.map(Schemas.AuditEntry.init)))))
    }

    /// The signed-in user; a project key (or a stub router) has none.
    private static func user() throws -> Principal {
        guard let principal = APICaller.current.principal else {
            throw APICaller.Forbidden(message: "Tokens belong to users: sign in with a user's token.")
        }
        return principal
    }
}

extension Schemas.UserInfo {
    init(_ view: UserView) {
        self.init(
            admin: view.record.isAdmin, createdAt: view.record.createdAt, email: view.record.email,
            projects: view.memberships.sorted { $0.project < $1.project }.map { .init(project: $0.project, role: .init(rawValue: $0.role.rawValue)!) })
    }
}

extension Schemas.TokenInfo {
    init(_ record: TokenRecord, email: String) {
        self.init(
            createdAt: record.createdAt, expiresAt: record.expiresAt, id: record.id, lastUsedAt: record.lastUsedAt, name: record.name,
            project: record.project, revoked: record.revokedAt != nil, role: record.role.flatMap { .init(rawValue: $0.rawValue) }, user: email)
    }
}

extension Schemas.AuditEntry {
    init(_ record: AuditRecord) {
        self.init(
            action: record.action, actor: record.actor, address: record.address, at: record.at, id: Int(record.id ?? 0), method: record.method,
            outcome: record.outcome, path: record.path, project: record.project, status: record.status)
    }
}
