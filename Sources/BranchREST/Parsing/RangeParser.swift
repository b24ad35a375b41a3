/// The `Range` header (`Range-Unit: items`), which old clients page with.
package enum RangeParser {
    /// `Range: 0-9` -> offset 0 limit 10; `10-` -> offset 10 limit nil; garbage -> nil (ignored, as PostgREST does)
    /// An `items=` prefix is accepted; an upper bound below the lower one is garbage too.
    package static func parse(_ header: String?) -> RowRange? {
        guard var text = header?.trimmingSpaces, !text.isEmpty else { return nil }
        if text.lowercased().hasPrefix("items=") { text.removeFirst("items=".count) }
        let bounds = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
        guard bounds.count == 2, let lower = integer(bounds[0]) else { return nil }
        if bounds[1].isEmpty { return RowRange(offset: lower, limit: nil) }
        guard let upper = integer(bounds[1]), upper >= lower else { return nil }
        // `0-9223372036854775807` is Int.max + 1 rows: as many as can be counted.
        return RowRange(offset: lower, limit: min(upper - lower, .max - 1) + 1)
    }

    /// Digits only (no sign), as a non-negative Int.
    private static func integer(_ text: String) -> Int? {
        guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit) else { return nil }
        return Int(text)
    }
}
