import Foundation

/// Who the SQL editor runs as: the project's owner (the default), or as the data API would run a
/// request with the anon key or a signed-in user's token: the role switched and the JWT claims
/// set for the run's transaction, so row-level security policies (`auth.uid()`, `auth.jwt()`) can
/// be tried from the editor (Supabase Studio's "run as").
struct RunAs: Sendable, Equatable {
    enum Role: String, Sendable, CaseIterable {
        case owner = ""
        case anon
        case authenticated

        var label: String {
            switch self {
            case .owner: "the project's owner (no RLS)"
            case .anon: "anon (the anon key)"
            case .authenticated: "authenticated (a signed-in user)"
            }
        }
    }

    /// An auth user the claims name.
    struct User: Sendable, Equatable {
        var id: String
        var email: String?
    }

    var role: Role = .owner
    /// For `authenticated`: the auth user's id or email (empty: a user with no `sub`).
    var user: String = ""

    /// `run_as` and `run_as_user` of the editor's form.
    init(_ form: FormFields) {
        role = form.text("run_as").flatMap(Role.init(rawValue:)) ?? .owner
        user = role == .authenticated ? form.text("run_as_user") ?? "" : ""
    }

    init(role: Role = .owner, user: String = "") {
        self.role = role
        self.user = user
    }

    /// One statement run before the editor's SQL, in the same transaction: the role and the claims
    /// as the data API sets them (`set_config(…, true)`, so they end with the transaction).
    func preamble(_ resolved: User?) throws -> String? {
        guard role != .owner else { return nil }
        var claims: [String: String] = ["role": role.rawValue]
        if role == .authenticated {
            claims["aud"] = "authenticated"
            if let resolved {
                claims["sub"] = resolved.id
                if let email = resolved.email { claims["email"] = email }
            }
        }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]), as: UTF8.self)
        return "SELECT set_config('role', \(try SQLQuoting.literal(role.rawValue)), true), "
            + "set_config('request.jwt.claims', \(try SQLQuoting.literal(json)), true)"
    }

    /// How the page says whom the SQL ran as.
    func description(_ resolved: User?) -> String? {
        switch role {
        case .owner: nil
        case .anon: "as anon"
        case .authenticated: "as authenticated" + (resolved.map { " user \($0.email ?? $0.id) (\($0.id))" } ?? " (no user: auth.uid() is NULL)")
        }
    }
}
