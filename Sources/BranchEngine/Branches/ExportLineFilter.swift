/// Takes the service's own grants out of a SQL export: the viewers' reader role
/// (`ReaderRole.name`) exists only inside Branch, so `GRANT … TO branch_reader` lines would fail
/// where the export is loaded (plain Postgres, Supabase). Works on pg_dump's output as it
/// streams, piece by piece: a line split across two pieces is held until it is whole.
struct ExportLineFilter {
    private var partial: [UInt8] = []
    private let dropped: [[UInt8]]

    init(role: String = ReaderRole.name) {
        dropped = [" TO \(role);", " FROM \(role);", " TO \"\(role)\";", " FROM \"\(role)\";"].map { Array($0.utf8) }
    }

    /// The whole lines of `piece` (with what was held before) that are kept.
    mutating func filter(_ piece: [UInt8]) -> [UInt8] {
        partial.append(contentsOf: piece)
        guard let lastNewline = partial.lastIndex(of: 0x0A) else { return [] }
        let complete = partial[...lastNewline]
        partial = Array(partial[(lastNewline + 1)...])
        var kept: [UInt8] = []
        kept.reserveCapacity(complete.count)
        for line in complete.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() {
            if !isDropped(line) {
                kept.append(contentsOf: line)
                kept.append(0x0A)
            }
        }
        return kept
    }

    /// What is left once the dump ended (a last line without a newline).
    mutating func finish() -> [UInt8] {
        defer { partial = [] }
        return isDropped(partial[...]) ? [] : partial
    }

    private func isDropped(_ line: ArraySlice<UInt8>) -> Bool {
        guard line.starts(with: "GRANT ".utf8) || line.starts(with: "REVOKE ".utf8) else { return false }
        return dropped.contains { line.count >= $0.count && line.suffix($0.count).elementsEqual($0) }
    }
}
