import Foundation

/// Instants as the console's URLs, forms and the diff API spell them: ISO 8601 in UTC to the
/// second (`2026-12-05T14:30:05Z`), the `datetime-local` value of a form (read as UTC), and the
/// `2026-12-05 14:30:05 UTC` people read. Format styles are values, made once: the timeline
/// writes hundreds of instants per page.
enum Instants {
    private static let isoStyle = Date.ISO8601FormatStyle(timeZone: .gmt)
    private static let readableStyle = Date.ISO8601FormatStyle(dateTimeSeparator: .space, timeZone: .gmt)

    static func iso(_ date: Date) -> String { isoStyle.format(date) }

    /// `2026-12-05 14:30:05 UTC` (as `Instants.utc`).
    static func utc(_ date: Date) -> String { String(readableStyle.format(date).dropLast()) + " UTC" }

    /// `2026-12-05T14:30:05` for `<input type="datetime-local" step="1">`, in UTC.
    static func localInput(_ date: Date) -> String {
        String(iso(date).dropLast())
    }

    /// An ISO 8601 instant with or without fractional seconds or offset; a `datetime-local` value
    /// (no zone, with or without seconds) is UTC.
    static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let date = Formatting.instant(trimmed) { return date }
        for suffix in ["Z", ":00Z"] {
            if let date = Formatting.instant(trimmed + suffix) { return date }
        }
        return nil
    }
}
