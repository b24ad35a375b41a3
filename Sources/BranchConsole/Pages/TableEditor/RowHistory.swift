/// A row's versions across points in time (its branch's snapshots, then now), newest first, each
/// cell marked where it differs from the version before it: what the table editor's history page
/// shows, for the whole row or one cell.
struct RowHistory: Sendable {
    /// One point's reading of the row.
    struct Reading: Sendable {
        var label: String
        var when: String
        /// The diff page from this point to the branch now (nil for now itself).
        var diffHref: String?
        /// The row's values by column; nil when the row did not exist then.
        var values: [String: String?]?
        /// Why the row could not be read there (the table did not exist, …).
        var note: String?
    }

    struct Cell: Sendable {
        var value: String
        var isNull: Bool
        /// Differs from the previous (older) version.
        var changed: Bool
        /// "changed from X": said to screen readers, shown on hover.
        var label: String?
    }

    struct Version: Sendable {
        var label: String
        var when: String
        var diffHref: String?
        var exists: Bool
        /// "row inserted", "row deleted", "3 cells changed", "unchanged", or the reading's note.
        var summary: String
        var changed: Bool
        var cells: [Cell]
        var columnCount: Int
    }

    var versions: [Version]
    /// Versions that changed the row (or the one cell) against the one before.
    var changes: Int
    var changesText: String

    /// `readings` oldest first; `columns` the columns shown (one for a cell's history).
    init(readings: [Reading], columns: [String]) {
        var versions: [Version] = []
        var previous: [String: String?]?? = .none  // .none: no older version yet
        for reading in readings {
            let before: [String: String?]? = previous ?? nil
            let cells = columns.map { column -> Cell in
                guard let values = reading.values else { return Cell(value: "", isNull: false, changed: false, label: nil) }
                // A column the table did not have yet reads as absent ("—"), compared as NULL.
                let present = values.keys.contains(column)
                let value = values[column] ?? nil
                let old = before.map { $0[column] ?? nil }
                let changed = previous != nil && before != nil && old != value
                return Cell(
                    value: present ? value ?? "NULL" : "—", isNull: present && value == nil, changed: changed,
                    label: changed ? "changed from \((old ?? nil) ?? "NULL")" : nil)
            }
            let changedCount = cells.filter(\.changed).count
            let summary: String
            switch (previous, before, reading.values) {
            case (_, _, nil) where reading.note != nil: summary = reading.note!
            case (.none, _, nil): summary = "no row"
            case (.none, _, _?): summary = "first seen"
            case (_, _?, nil): summary = "row deleted"
            case (_, nil, nil): summary = "no row"
            case (_, nil, _?): summary = "row inserted"
            default: summary = changedCount == 0 ? "unchanged" : "\(changedCount) cell\(changedCount == 1 ? "" : "s") changed"
            }
            let changed = summary == "row inserted" || summary == "row deleted" || changedCount > 0
            versions.append(Version(
                label: reading.label, when: reading.when, diffHref: reading.diffHref, exists: reading.values != nil, summary: summary,
                changed: changed, cells: cells, columnCount: columns.count))
            // A reading that failed says nothing about the row: the next compares with the one before.
            if reading.note == nil { previous = .some(reading.values) }
        }
        self.versions = versions.reversed()
        changes = versions.filter(\.changed).count
        changesText = changes == 1 ? "1 version changed it." : "\(changes) versions changed it."
    }
}
