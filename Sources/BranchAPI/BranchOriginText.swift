package import Foundation

extension Components.Schemas.BranchOrigin {
    /// What the CLI's branch list and the console print: `main @ HEAD`, `main @ 2026-12-06T21:59:00Z`,
    /// `main @ 0/16B3748` (the notation a diff side takes), `snapshot ID`, `backup ID`; with
    /// `, schema only` for a branch made without rows.
    package func text(parent: String?, snapshotName: String? = nil) -> String {
        let source = parent ?? "its parent"
        let from = switch kind {
        case .head: "\(source) @ HEAD"
        case .instant: "\(source) @ \(at.map { $0.formatted(.iso8601) } ?? "an instant")"
        case .position: "\(source) @ \(position ?? "a WAL position")"
        case .snapshot: "snapshot \(snapshotName ?? snapshot ?? "")"
        case .backup: "backup \(backup ?? "")"
        }
        return schemaOnly == true ? from + ", schema only" : from
    }
}
