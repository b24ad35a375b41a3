import BranchAPI
import Foundation

/// The overview's "Mirror" card of a project whose main follows a source database: where from
/// (without the password), whether it applies, how far behind, when it last heard from the
/// source, its problem, and the source's schema changes it could not apply, with their SQL.
struct MirrorCard: Sendable {
    struct Pending: Sendable {
        var change: String
        var changeSQL: String?
    }

    // Named apart from the overview's own fields: the template reads them inside the page's context.
    var mirrorSource: String
    var mirrorPublication: String
    var mirrorSubscription: String
    var mirrorFollowing: Bool
    var mirrorLag: String
    var mirrorHeard: String
    var mirrorChecked: String
    var mirrorProblem: String?
    var mirrorPending: [Pending]
    var mirrorHasPending: Bool

    /// How `MirrorWatch` words a change it could not apply: the change, the error, then this and the SQL.
    static let sqlMarker = "; to apply it yourself: "

    init(_ info: Components.Schemas.MirrorInfo) {
        mirrorSource = info.source
        mirrorPublication = info.publication
        mirrorSubscription = info.subscription
        mirrorFollowing = info.following
        mirrorLag = info.lagBytes.map { Formatting.bytes($0) + " behind" } ?? "unknown: the source did not answer"
        mirrorHeard = info.lastMessageSecondsAgo.map { ImportJobModel.duration($0) + " ago" } ?? "not yet"
        mirrorChecked = info.checkedAt.map { Formatting.age($0) } ?? "not yet"
        mirrorProblem = info.problem
        mirrorPending = info.pendingChanges.map { text in
            guard let marker = text.range(of: Self.sqlMarker) else { return Pending(change: text, changeSQL: nil) }
            return Pending(change: String(text[..<marker.lowerBound]), changeSQL: String(text[marker.upperBound...]))
        }
        mirrorHasPending = !info.pendingChanges.isEmpty
    }
}
