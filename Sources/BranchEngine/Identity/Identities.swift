package import BranchCatalog
package import BranchCore
import BranchAuth
import Crypto
import BranchStorage
import BranchSystem
package import Foundation
import Logging

/// The login the first start creates for the instance admin, shown once.
package struct AdminLogin: Sendable {
    package var email: String
    package var password: String
}

/// A token as its owner sees it once: the record and its text (never stored).
package struct IssuedToken: Sendable {
    package var record: TokenRecord
    package var text: String
}

/// A user with their project roles.
package struct UserView: Sendable {
    package var record: UserRecord
    package var memberships: [MembershipRecord]

    package init(record: UserRecord, memberships: [MembershipRecord]) {
        self.record = record
        self.memberships = memberships
    }
}

/// Users, their project roles and their management tokens.
///
/// The first start makes the instance admin (its password shown once) and turns the pool's admin
/// key into that admin's first token; from then on every management request authenticates with a
/// token, looked up by its SHA-256, refused when revoked or expired.
package struct Identities: EnginePart {
    let context: EngineContext

    /// The instance admin's email on a fresh pool.
    static let adminEmail = "admin@localhost"

    // MARK: Start-up

    /// Makes the instance admin on a pool without users, and makes sure the admin key is one of
    /// the admin's tokens (pools from before users). Returns the admin's login when it was made.
    func bootstrap(adminKey: String) async throws -> AdminLogin? {
        // Hashing costs a tenth of a second and 32 MiB: only a pool without an admin pays it.
        let hasAdmin = try await catalog.read { try $0.users().contains(where: \.isAdmin) }
        let password = hasAdmin ? nil : Passwords.generate()
        let hash: String? = if let password { try await Passwords.hash(password) } else { nil }
        let keyHash = TokenText.hash(adminKey)
        let now = Date()
        return try await catalog.write { tx -> AdminLogin? in
            var created: AdminLogin?
            var admin = try tx.users().first(where: \.isAdmin)
            if admin == nil, let password, let hash {
                let user = UserRecord(id: "u_" + Identifiers.shortID(), email: Self.adminEmail, passwordHash: hash, isAdmin: true, createdAt: now)
                try tx.insert(user)
                admin = user
                created = AdminLogin(email: user.email, password: password)
            }
            if let admin, try tx.token(hash: keyHash) == nil {
                try tx.insert(TokenRecord(
                    id: "tk_" + Identifiers.shortID(), userID: admin.id, hash: keyHash, name: "admin.key", project: nil, role: nil,
                    createdAt: now, expiresAt: nil))
            }
            return created
        }
    }

    // MARK: First run

    /// Whether the instance admin still signs in with what the first start generated (the console
    /// then shows its first-run screen).
    package func firstRunPending() -> Bool { Files.read(layout.adminPassword) != nil }

    /// The console's first run: whoever proves they own the server (the admin key, or the
    /// first-start password) gives the instance admin their own email and password. Returns a
    /// session token for them.
    package func completeFirstRun(
        proof: String, adminKey: String, email rawEmail: String, password: String, address: String?, expiresIn: TimeInterval
    )
        async throws -> IssuedToken
    {
        guard let first = Files.read(layout.adminPassword) else {
            throw EngineError(.firstRunDone, "The instance admin has already chosen their sign-in.", hint: "Sign in instead.")
        }
        let firstPassword = first.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        let proofDigest = SHA256.hash(data: Data(proof.utf8))
        guard proofDigest == SHA256.hash(data: Data(adminKey.utf8)) || proofDigest == SHA256.hash(data: Data(firstPassword.utf8)) else {
            await context.signIns.recordFailure(scope: "management", email: Self.adminEmail, address: address, now: Date())
            throw EngineError(.unauthorized, "That is neither the admin key nor the first-start password.",
                              hint: "Both are printed by `make run`; the key is also in the admin.key file beside the catalog.")
        }
        let email = try Self.validEmail(rawEmail)
        try Self.checkStrength(password)
        let hash = try await Passwords.hash(password)
        let admin = try await catalog.write { tx -> UserRecord in
            guard var admin = try tx.users().first(where: \.isAdmin) else { throw EngineError(.notFound, "The instance has no admin.") }
            if email != admin.email, try tx.user(email: email) != nil { throw EngineError(.userExists, "A user with the email \(email) exists.") }
            try tx.setEmail(userID: admin.id, email: email)
            try tx.setPassword(userID: admin.id, hash: hash)
            admin.email = email
            return admin
        }
        try? FileManager.default.removeItem(atPath: layout.adminPassword)
        let principal = Principal(user: admin, token: TokenRecord(
            id: "", userID: admin.id, hash: "", name: "", project: nil, role: nil, createdAt: Date(), expiresAt: nil), memberships: [:])
        return try await createToken(for: principal, name: Self.consoleSession, project: nil, role: nil, expiresIn: expiresIn)
    }

    // MARK: Authentication

    /// The principal a token belongs to; nil for an unknown, revoked or expired token.
    package func authenticate(token text: String) async throws -> Principal? {
        let hash = TokenText.hash(text)
        let now = Date()
        let found = try await catalog.read { tx -> Principal? in
            guard let token = try tx.token(hash: hash), token.revokedAt == nil, token.expiresAt.map({ $0 > now }) ?? true,
                let user = try tx.user(id: token.userID)
            else { return nil }
            let roles = Dictionary(try tx.memberships(userID: user.id).map { ($0.project, $0.role) }, uniquingKeysWith: { $1 })
            return Principal(user: user, token: token, memberships: roles)
        }
        if let found, await context.tokenUse.shouldRecord(found.token.id, at: now) {
            try? await catalog.write { try $0.touchToken(id: found.token.id, at: now) }
        }
        return found
    }

    // MARK: Signing in

    /// A new token for the user whose email and password these are. Failures are counted per
    /// email and per client address; past the limit every attempt is refused for a while, right
    /// or wrong, and the answer never says whether the email exists.
    package func signIn(email rawEmail: String, password: String, address: String?, name: String?, expiresIn: TimeInterval?) async throws
        -> (IssuedToken, UserRecord)
    {
        let user = try await verifyPassword(email: rawEmail, password: password, address: address)
        let now = Date()
        let principal = Principal(user: user, token: TokenRecord(
            id: "", userID: user.id, hash: "", name: "", project: nil, role: nil, createdAt: now, expiresAt: nil), memberships: [:])
        let issued = try await createToken(for: principal, name: name ?? "login", project: nil, role: nil, expiresIn: expiresIn ?? 30 * 86_400)
        return (issued, user)
    }

    /// Checks a user's password under sign-in's limits (a wrong one counts as a failed sign-in):
    /// sign-in itself, and the console asking for the current password before changing it.
    package func verifyPassword(email rawEmail: String, password: String, address: String?) async throws -> UserRecord {
        let email = rawEmail.trimmingCharacters(in: .whitespaces).lowercased()
        let now = Date()
        guard await context.signIns.allows(scope: "management", email: email, address: address, now: now) else {
            throw EngineError(.signInLocked, "Too many failed sign-ins for this account or from this address.", hint: "Wait five minutes, then try again.")
        }
        let user = try await catalog.read { try $0.user(email: email) }
        // A missing user costs the same hash as a wrong password, so timing does not tell them apart.
        let matches = await Passwords.verify(password, against: user?.passwordHash ?? Self.decoyHash)
        guard let user, matches else {
            await context.signIns.recordFailure(scope: "management", email: email, address: address, now: now)
            throw EngineError(.unauthorized, "Wrong email or password.")
        }
        await context.signIns.recordSuccess(scope: "management", email: email)
        return user
    }

    /// The name of console session tokens.
    package static let consoleSession = "console"

    /// A valid hash of a random password, checked when the email is unknown.
    private static let decoyHash = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

    // MARK: Users

    package func users() async throws -> [UserView] {
        try await catalog.read { tx in try tx.users().map { UserView(record: $0, memberships: try tx.memberships(userID: $0.id)) } }
    }

    /// Makes a user; without a password, one is generated and returned (shown once).
    package func createUser(email: String, password: String?, admin: Bool) async throws -> (UserView, generatedPassword: String?) {
        let email = try Self.validEmail(email)
        if let password { try Self.checkStrength(password) }
        let chosen = password ?? Passwords.generate()
        let hash = try await Passwords.hash(chosen)
        let user = UserRecord(id: "u_" + Identifiers.shortID(), email: email, passwordHash: hash, isAdmin: admin, createdAt: Date())
        try await catalog.write { tx in
            if try tx.user(email: email) != nil { throw EngineError(.userExists, "A user with the email \(email) exists.") }
            try tx.insert(user)
        }
        return (UserView(record: user, memberships: []), password == nil ? chosen : nil)
    }

    package func deleteUser(email: String) async throws -> UserRecord {
        try await catalog.write { tx in
            let user = try Self.requireUser(email, tx)
            if user.isAdmin, try tx.users().filter(\.isAdmin).count == 1 {
                throw EngineError(.lastAdmin, "\(email) is the only instance admin.", hint: "Make another admin first.")
            }
            try tx.deleteUser(id: user.id)
            return user
        }
    }

    /// Sets a password; `caller` may change their own, the instance admin anyone's. The user's
    /// console sessions end (all but the caller's own): whoever knew the old password is out.
    /// API tokens stay: they were never the password.
    package func setPassword(email: String, password: String, caller: Principal) async throws {
        try Self.checkStrength(password)
        let hash = try await Passwords.hash(password)
        try await catalog.write { tx in
            let user = try Self.requireUser(email, tx)
            guard caller.isInstanceAdmin || (caller.user.id == user.id && caller.token.project == nil) else {
                throw EngineError.forbidden("Only the instance admin can change another user's password.")
            }
            try tx.setPassword(userID: user.id, hash: hash)
            try tx.revokeTokens(userID: user.id, named: Self.consoleSession, except: caller.token.id, at: Date())
        }
        // The first login's file would show a password that no longer works.
        if let first = Files.read(layout.adminPassword), first.hasPrefix(email.lowercased() + "\n") {
            try? FileManager.default.removeItem(atPath: layout.adminPassword)
        }
    }

    // MARK: Members

    package func members(project: String) async throws -> [(email: String, role: ProjectRole)] {
        try await catalog.read { tx in
            _ = try tx.requireProject(project)
            let users = Dictionary(try tx.users().map { ($0.id, $0.email) }, uniquingKeysWith: { $1 })
            return try tx.memberships(project: project).compactMap { membership in users[membership.userID].map { ($0, membership.role) } }
        }
    }

    package func setMember(email: String, project: String, role: ProjectRole?) async throws {
        try await catalog.write { tx in
            let project = try tx.requireProject(project)
            let user = try Self.requireUser(email, tx)
            if let role {
                try tx.setMembership(MembershipRecord(userID: user.id, project: project.name.rawValue, role: role))
            } else {
                try tx.deleteMembership(userID: user.id, project: project.name.rawValue)
            }
        }
    }

    /// Forgets the roles and project tokens of a deleted project (a new project of the same name starts with none).
    package func forgetProject(_ project: String) async throws {
        try await catalog.write { try $0.forgetProject(project) }
    }

    // MARK: Tokens

    /// A new token of `caller`'s user: for the instance, or for one project with a role no higher
    /// than the user's there.
    package func createToken(
        for caller: Principal, name: String?, project: String?, role: ProjectRole?, expiresIn: TimeInterval?
    ) async throws -> IssuedToken {
        if caller.token.project != nil {
            throw EngineError.forbidden("A token scoped to a project cannot make tokens.", hint: "Use an instance token (`branch login`).")
        }
        if let expiresIn, expiresIn <= 0 || expiresIn > 10 * 365 * 86_400 {
            throw EngineError.invalidRequest("A token expires between 1 second and 10 years from now.")
        }
        if (project == nil) != (role == nil) {
            throw EngineError.invalidRequest("A project token needs both a project and a role.", hint: "--project P --role viewer|developer|owner")
        }
        if let project, let role {
            _ = try await catalog.read { try $0.requireProject(project) }
            guard caller.may(role, in: project) else {
                throw EngineError.forbidden("You cannot make a \(role.rawValue) token for project '\(project)': your role there is lower.")
            }
        }
        let text = TokenText.generate()
        let now = Date()
        let record = TokenRecord(
            id: "tk_" + Identifiers.shortID(), userID: caller.user.id, hash: TokenText.hash(text),
            name: (name?.isEmpty == false ? name! : "token"), project: project, role: role, createdAt: now,
            expiresAt: expiresIn.map { now.addingTimeInterval($0) })
        try await catalog.write { try $0.insert(record) }
        return IssuedToken(record: record, text: text)
    }

    /// The caller's tokens (the instance admin: everyone's).
    package func tokens(for caller: Principal) async throws -> [(token: TokenRecord, email: String)] {
        try await catalog.read { tx in
            let emails = Dictionary(try tx.users().map { ($0.id, $0.email) }, uniquingKeysWith: { $1 })
            return try tx.tokens(userID: caller.isInstanceAdmin ? nil : caller.user.id).map { ($0, emails[$0.userID] ?? "?") }
        }
    }

    /// Revokes a token of the caller's (the instance admin: anyone's); it stops working at once.
    package func revokeToken(id: String, caller: Principal) async throws -> TokenRecord {
        try await catalog.write { tx in
            guard let token = try tx.token(id: id), caller.isInstanceAdmin || token.userID == caller.user.id else {
                throw EngineError(.tokenNotFound, "There is no token \(id) of yours.", hint: "List them with `branch token list`.")
            }
            try tx.revokeToken(id: id, at: Date())
            return try tx.token(id: id) ?? token
        }
    }

    // MARK: Checks

    static func requireUser(_ email: String, _ tx: CatalogTransaction) throws -> UserRecord {
        guard let user = try tx.user(email: email) else {
            throw EngineError(.userNotFound, "There is no user \(email).", hint: "List users with `branch user list`.")
        }
        return user
    }

    static func validEmail(_ email: String) throws -> String {
        let trimmed = email.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        // Printable ASCII only (no NUL, control or direction marks, no look-alike letters), and a
        // local part without leading, trailing or doubled dots, as RFC 5322's dot-atom has it.
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, trimmed.utf8.count <= 254,
            trimmed.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\\") }),
            parts[0].first != ".", parts[0].last != ".", !parts[0].contains("..")
        else {
            let shown = String(email.unicodeScalars.prefix(100).map { $0.escaped(asASCII: true) }.joined())
            throw EngineError.invalidRequest("'\(shown)' is not an email address.")
        }
        return trimmed
    }

    static func checkStrength(_ password: String) throws {
        guard password.count >= 12 else {
            throw EngineError.invalidRequest("A password has at least 12 characters.", hint: "Leave it out to have one generated.")
        }
        guard password.utf8.count <= 1024 else { throw EngineError.invalidRequest("A password has at most 1,024 bytes.") }
    }
}

/// When each token was last recorded as used: the catalog is written at most once a minute per
/// token, not on every request.
actor TokenUse {
    private var recorded: [String: Date] = [:]

    func shouldRecord(_ tokenID: String, at now: Date) -> Bool {
        if let last = recorded[tokenID], now.timeIntervalSince(last) < 60 { return false }
        recorded[tokenID] = now
        return true
    }
}
