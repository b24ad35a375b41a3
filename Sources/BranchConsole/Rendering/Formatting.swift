import BranchCore
import Foundation

/// How the console writes sizes, ages and instants: the same words everywhere.
enum Formatting {
    static func bytes(_ value: Int?) -> String {
        guard let value else { return "—" }
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var size = Double(value)
        var unit = 0
        while size >= 1024 && unit < units.count - 1 {
            size /= 1024
            unit += 1
        }
        return unit == 0 ? "\(value) B" : String(format: size < 10 ? "%.1f %@" : "%.0f %@", size, units[unit])
    }

    /// "12,345": a count with thousands separated (the same in every locale).
    static func count(_ value: Int) -> String {
        let digits = String(value.magnitude)
        let grouped = digits.enumerated().map { index, digit in
            index > 0 && (digits.count - index) % 3 == 0 ? ",\(digit)" : "\(digit)"
        }.joined()
        return (value < 0 ? "-" : "") + grouped
    }

    /// "3 min ago" for an ISO 8601 instant; the text itself if unparsable.
    static func age(_ iso: String, now: Date = Date()) -> String {
        guard let date = instant(iso) else { return iso }
        return age(date, now: now)
    }

    /// "3 min ago".
    static func age(_ date: Date, now: Date = Date()) -> String {
        let seconds = Int(now.timeIntervalSince(date))
        switch seconds {
        case ..<0: return "just now"
        case ..<60: return "\(seconds) s ago"
        case ..<3600: return "\(seconds / 60) min ago"
        case ..<86400: return "\(seconds / 3600) h ago"
        default: return "\(seconds / 86400) d ago"
        }
    }

    /// "6 d", "3 h", "12 min": how long until `date` (a time to live).
    static func timeLeft(until date: Date, now: Date = Date()) -> String {
        let seconds = max(0, Int(date.timeIntervalSince(now)))
        switch seconds {
        case ..<3600: return "\(max(1, seconds / 60)) min"
        case ..<86400: return "\(seconds / 3600) h"
        default: return "\(seconds / 86400) d"
        }
    }

    /// A past point as a page's `at` gives it: a WAL position (`0/16B3748`) or an instant (`instant`).
    static func point(_ text: String) -> PastPoint? {
        WALPosition(text.trimmingCharacters(in: .whitespaces)).map(PastPoint.position) ?? instant(text).map(PastPoint.instant)
    }

    static func instant(_ iso: String) -> Date? {
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: iso) ?? ISO8601DateFormatter().date(from: iso) { return date }
        // A form's `datetime-local` field (`2026-01-15T11:45`, seconds optional, no zone) or
        // `2026-01-15 11:45:00`: the console labels such fields UTC.
        let text = iso.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " ", with: "T")
        let parts = text.split(separator: "T")
        guard parts.count == 2, parts[0].count == 10, !text.contains("Z"), !parts[1].contains("+"), !parts[1].contains("-") else { return nil }
        let time = parts[1].count == 5 ? parts[1] + ":00" : String(parts[1])
        return ISO8601DateFormatter().date(from: "\(parts[0])T\(time)Z")
    }

    /// A URL's or form's instant as the console's URLs keep it (`2026-01-15T11:45:00Z`); nil for
    /// none, and a 400 for one that does not parse.
    static func canonicalInstant(_ text: String?) throws -> String? {
        guard let text else { return nil }
        guard let instant = instant(text) else {
            throw ConsoleFailure(status: 400, code: "invalid_request", message: "'\(text)' is not an ISO 8601 instant (like 2026-01-15T11:45:00Z).")
        }
        return ISO8601DateFormatter().string(from: instant)
    }

    /// A URL's or form's past point as the console's URLs keep it: a WAL position (`0/16B3748`) or
    /// an instant (`2026-01-15T11:45:00Z`); nil for none, and a 400 for one that is neither.
    static func canonicalPoint(_ text: String?) throws -> String? {
        guard let text else { return nil }
        switch try requiredPoint(text) {
        case .position(let position): return position.description
        case .instant(let instant): return ISO8601DateFormatter().string(from: instant)
        }
    }

    /// `point(text)`, or the 400 that says what a past point looks like.
    static func requiredPoint(_ text: String) throws -> PastPoint {
        guard let point = point(text) else {
            throw ConsoleFailure(
                status: 400, code: "invalid_request", message: "'\(text)' is not an instant or a WAL position (like 2026-01-15T11:45:00Z or 0/16B3748).")
        }
        return point
    }

    /// "2026-12-05 14:30:05 UTC".
    static func utc(_ iso: String) -> String {
        guard let date = instant(iso) else { return iso }
        return utc(date)
    }

    static func utc(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return formatter.string(from: date)
    }
}
