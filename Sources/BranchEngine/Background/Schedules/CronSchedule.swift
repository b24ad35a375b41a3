package import Foundation

/// When a schedule fires: a cron expression (`minute hour day-of-month month day-of-week`, in
/// UTC, with `*`, lists, ranges and steps; both day fields restricted means either matches, as in
/// Vixie cron), a macro (`@hourly`, `@daily`, `@weekly`, `@monthly`), or `@every <duration>`.
package struct CronSchedule: Sendable, Equatable {
    enum Rule: Sendable, Equatable {
        case every(seconds: Int)
        case fields(minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>, daysRestricted: Bool, weekdaysRestricted: Bool)
    }

    let rule: Rule
    package let expression: String

    package init(parsing expression: String) throws(CronError) {
        let text = expression.trimmingCharacters(in: .whitespaces)
        self.expression = text
        switch text {
        case "@hourly": self.rule = try Self.parseFields("0 * * * *")
        case "@daily", "@midnight": self.rule = try Self.parseFields("0 0 * * *")
        case "@weekly": self.rule = try Self.parseFields("0 0 * * 0")
        case "@monthly": self.rule = try Self.parseFields("0 0 1 * *")
        default:
            if text.hasPrefix("@every ") {
                guard let seconds = Self.duration(String(text.dropFirst(7))), seconds >= 1 else {
                    throw CronError(expression: text, reason: "@every takes a duration like 30s, 15m or 2h")
                }
                self.rule = .every(seconds: seconds)
            } else {
                self.rule = try Self.parseFields(text)
            }
        }
    }

    /// The first firing time strictly after `date`.
    package func next(after date: Date) -> Date {
        switch rule {
        case .every(let seconds):
            // Aligned to multiples of the period since the epoch, so restarts do not shift it.
            let period = Double(seconds)
            return Date(timeIntervalSince1970: (floor(date.timeIntervalSince1970 / period) + 1) * period)
        case .fields(let minutes, let hours, let days, let months, let weekdays, let daysRestricted, let weekdaysRestricted):
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            // The next whole minute. (Not `date(bySetting: .second, value: 0, of:)`: it searches forward
            // for the next such date, which skipped the minute right after `date`.)
            let start = Date(timeIntervalSince1970: (floor(date.timeIntervalSince1970 / 60) + 1) * 60)
            var day = calendar.startOfDay(for: start)
            // Four years covers every valid expression (February 29 included).
            for _ in 0..<(366 * 4 + 1) {
                let parts = calendar.dateComponents([.month, .day, .weekday], from: day)
                let dayMatches = daysRestricted && weekdaysRestricted
                    ? days.contains(parts.day!) || weekdays.contains(parts.weekday! - 1)
                    : days.contains(parts.day!) && weekdays.contains(parts.weekday! - 1)
                if months.contains(parts.month!) && dayMatches {
                    for hour in hours.sorted() {
                        for minute in minutes.sorted() {
                            guard let candidate = calendar.date(bySettingHour: hour, minute: minute, second: 0, of: day) else { continue }
                            if candidate >= start { return candidate }
                        }
                    }
                }
                day = calendar.date(byAdding: .day, value: 1, to: day)!
            }
            return .distantFuture
        }
    }

    static func parseFields(_ text: String) throws(CronError) -> Rule {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else {
            throw CronError(expression: text, reason: "a cron expression has five fields: minute hour day-of-month month day-of-week")
        }
        let minutes = try field(fields[0], 0...59, text)
        let hours = try field(fields[1], 0...23, text)
        let days = try field(fields[2], 1...31, text)
        let months = try field(fields[3], 1...12, text)
        var weekdays = try field(fields[4], 0...7, text)
        if weekdays.contains(7) { weekdays.insert(0) }  // 7 is Sunday too
        return .fields(
            minutes: minutes, hours: hours, days: days, months: months, weekdays: weekdays,
            daysRestricted: fields[2] != "*", weekdaysRestricted: fields[4] != "*")
    }

    static func field(_ text: String, _ range: ClosedRange<Int>, _ expression: String) throws(CronError) -> Set<Int> {
        var values = Set<Int>()
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "/", maxSplits: 1)
            let step = pieces.count == 2 ? Int(pieces[1]) : 1
            guard let step, step > 0 else { throw CronError(expression: expression, reason: "bad step in '\(part)'") }
            let span: ClosedRange<Int>
            if pieces[0] == "*" {
                span = range
            } else if let dash = pieces[0].firstIndex(of: "-") {
                guard let low = Int(pieces[0][..<dash]), let high = Int(pieces[0][pieces[0].index(after: dash)...]), low <= high,
                    range.contains(low), range.contains(high)
                else { throw CronError(expression: expression, reason: "bad range '\(pieces[0])' (allowed \(range.lowerBound)-\(range.upperBound))") }
                span = low...high
            } else {
                guard let value = Int(pieces[0]), range.contains(value) else {
                    throw CronError(expression: expression, reason: "'\(pieces[0])' is not in \(range.lowerBound)-\(range.upperBound)")
                }
                span = pieces.count == 2 ? value...range.upperBound : value...value
            }
            values.formUnion(stride(from: span.lowerBound, through: span.upperBound, by: step))
        }
        return values
    }

    static func duration(_ text: String) -> Int? {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let unit = text.last, let multiplier = units[unit], let value = Int(text.dropLast()) else { return Int(text) }
        return value * multiplier
    }
}

/// A schedule expression that does not parse.
package struct CronError: Error, CustomStringConvertible {
    package let expression: String
    package let reason: String
    package var description: String { "Invalid schedule '\(expression)': \(reason)." }
}
