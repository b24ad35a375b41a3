import Foundation

/// A point on the timeline, as the URL names it (`a=`, `b=`, `point=`): `snapshot:ID`,
/// `backup:ID`, or `BRANCH@ISO` (a branch as it was at an instant, to the second).
enum TimelinePoint: Equatable, Sendable {
    case snapshot(String)
    case backup(String)
    case instant(branch: String, at: Date)

    init?(_ text: String) {
        if text.hasPrefix("snapshot:") {
            let id = String(text.dropFirst("snapshot:".count))
            guard !id.isEmpty else { return nil }
            self = .snapshot(id)
        } else if text.hasPrefix("backup:") {
            let id = String(text.dropFirst("backup:".count))
            guard !id.isEmpty else { return nil }
            self = .backup(id)
        } else if let at = text.lastIndex(of: "@"), let date = Instants.parse(String(text[text.index(after: at)...])), at > text.startIndex {
            self = .instant(branch: String(text[..<at]), at: Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)))
        } else {
            return nil
        }
    }

    /// How the URL names it.
    var token: String {
        switch self {
        case .snapshot(let id): "snapshot:\(id)"
        case .backup(let id): "backup:\(id)"
        case .instant(let branch, let at): "\(branch)@\(Instants.iso(at))"
        }
    }

    /// How the diff API and `branch diff` name it: a snapshot's id, `backup:ID`, `BRANCH@INSTANT`.
    var diffSide: String {
        switch self {
        case .snapshot(let id): id
        case .backup(let id): "backup:\(id)"
        case .instant(let branch, let at): "\(branch)@\(Instants.iso(at))"
        }
    }
}
