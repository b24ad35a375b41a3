package import Foundation

/// Instants as users write them (CLI flags, `BRANCH@INSTANT` diff sides): ISO 8601, with or without fractional seconds, or a time
/// ago as `15m-ago`, `"2h ago"`, or `-90s` (which needs `--at=-90s`, as it looks like an option).
package enum Instant {
    package static func parse(_ text: String, now: Date = Date()) -> Date? {
        if text.hasPrefix("-"), let seconds = Seconds.parse(String(text.dropFirst())) {
            return now.addingTimeInterval(-Double(seconds))
        }
        if text.hasSuffix(" ago") || text.hasSuffix("-ago"), let seconds = Seconds.parse(String(text.dropLast(4))) {
            return now.addingTimeInterval(-Double(seconds))
        }
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}
