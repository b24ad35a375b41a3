@testable import BranchEngine
import Foundation
import Testing

/// `2026-03-01T12:00:30Z` as a date.
private func at(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.date(from: text)!
}

private func next(_ expression: String, after text: String) throws -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: try CronSchedule(parsing: expression).next(after: at(text)))
}

@Suite("Cron schedules")
struct CronScheduleTests {
    @Test("the next firing is the first matching minute after the instant, even late in a minute")
    func nextMinuteNotSkipped() throws {
        #expect(try next("1 * * * *", after: "2026-03-01T12:00:30Z") == "2026-03-01T12:01:00Z")
        #expect(try next("*/5 * * * *", after: "2026-03-01T12:04:10Z") == "2026-03-01T12:05:00Z")
        #expect(try next("40 * * * *", after: "2026-03-01T19:39:35Z") == "2026-03-01T19:40:00Z")
        #expect(try next("0 3 * * *", after: "2026-03-01T02:59:30Z") == "2026-03-01T03:00:00Z")
        #expect(try next("* * * * *", after: "2026-03-01T12:00:59Z") == "2026-03-01T12:01:00Z")
    }

    @Test("strictly after: a firing at the instant itself is not the next one")
    func strictlyAfter() throws {
        #expect(try next("0 * * * *", after: "2026-03-01T12:00:00Z") == "2026-03-01T13:00:00Z")
        #expect(try next("* * * * *", after: "2026-03-01T12:00:00Z") == "2026-03-01T12:01:00Z")
    }

    @Test("the ends of an hour, a day, a month and a year roll over")
    func rollOver() throws {
        #expect(try next("*/15 * * * *", after: "2026-03-01T12:59:10Z") == "2026-03-01T13:00:00Z")
        #expect(try next("30 * * * *", after: "2026-03-01T23:45:00Z") == "2026-03-02T00:30:00Z")
        #expect(try next("0 0 * * *", after: "2026-02-28T23:59:59Z") == "2026-03-01T00:00:00Z")
        #expect(try next("0 0 1 * *", after: "2026-04-30T12:00:00Z") == "2026-05-01T00:00:00Z")
        #expect(try next("0 0 1 1 *", after: "2026-12-31T23:59:30Z") == "2027-01-01T00:00:00Z")
        #expect(try next("0 12 29 2 *", after: "2026-03-01T00:00:00Z") == "2028-02-29T12:00:00Z")
        #expect(try next("0 0 31 * *", after: "2026-04-01T00:00:00Z") == "2026-05-31T00:00:00Z")
    }

    @Test("lists, ranges, steps, stepped ranges and single values with a step")
    func fieldForms() throws {
        #expect(try next("5,35 * * * *", after: "2026-03-01T12:06:00Z") == "2026-03-01T12:35:00Z")
        #expect(try next("10-12 * * * *", after: "2026-03-01T12:12:00Z") == "2026-03-01T13:10:00Z")
        #expect(try next("0-30/10 * * * *", after: "2026-03-01T12:21:00Z") == "2026-03-01T12:30:00Z")
        #expect(try next("50/5 * * * *", after: "2026-03-01T12:56:00Z") == "2026-03-01T13:50:00Z")
        #expect(try next("0 9-17/4 * * *", after: "2026-03-01T13:00:00Z") == "2026-03-01T17:00:00Z")
        #expect(try next("0 0 * 2,6 *", after: "2026-03-01T00:00:00Z") == "2026-06-01T00:00:00Z")
    }

    @Test("day of week: 0 and 7 are Sunday; with both day fields restricted either matches")
    func daysOfWeek() throws {
        // 2026-03-01 is a Sunday.
        #expect(try next("0 0 * * 1", after: "2026-03-01T00:00:00Z") == "2026-03-02T00:00:00Z")
        #expect(try next("0 0 * * 7", after: "2026-03-01T00:00:00Z") == "2026-03-08T00:00:00Z")
        #expect(try next("0 0 * * 0", after: "2026-03-02T00:00:00Z") == "2026-03-08T00:00:00Z")
        #expect(try next("0 0 13 * 5", after: "2026-03-01T00:00:00Z") == "2026-03-06T00:00:00Z")
        #expect(try next("0 0 3 * 5", after: "2026-03-01T00:00:00Z") == "2026-03-03T00:00:00Z")
    }

    @Test("macros and @every")
    func macros() throws {
        #expect(try next("@hourly", after: "2026-03-01T12:59:59Z") == "2026-03-01T13:00:00Z")
        #expect(try next("@daily", after: "2026-03-01T12:00:00Z") == "2026-03-02T00:00:00Z")
        #expect(try next("@midnight", after: "2026-03-01T23:59:59Z") == "2026-03-02T00:00:00Z")
        #expect(try next("@weekly", after: "2026-03-02T00:00:00Z") == "2026-03-08T00:00:00Z")
        #expect(try next("@monthly", after: "2026-03-01T00:00:00Z") == "2026-04-01T00:00:00Z")
        #expect(try next("@every 15m", after: "2026-03-01T12:14:59Z") == "2026-03-01T12:15:00Z")
        #expect(try next("@every 15m", after: "2026-03-01T12:15:00Z") == "2026-03-01T12:30:00Z")
        #expect(try next("@every 2h", after: "2026-03-01T12:00:00Z") == "2026-03-01T14:00:00Z")
    }

    @Test("malformed expressions are refused with the reason", arguments: [
        "", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *",
        "a * * * *", "@every", "@every 0s", "@every soon", "@yearly",
    ])
    func malformed(_ expression: String) {
        #expect(throws: CronError.self) { try CronSchedule(parsing: expression) }
    }
}

@Suite("Retention")
struct RetentionTests {
    /// One item every hour for `days` days, newest at `now`.
    func hourly(days: Int, until now: Date) -> [(id: String, at: Date)] {
        (0..<(days * 24)).map { hour in ("h\(hour)", now.addingTimeInterval(-Double(hour) * 3600)) }
    }

    @Test("daily: 7 keeps seven, one per calendar day, the newest of each")
    func dailySeven() {
        let now = at("2026-03-10T12:30:00Z")
        let items = hourly(days: 20, until: now)
        let kept = RetentionPolicy(keepLast: 0, hourly: 0, daily: 7, weekly: 0, monthly: 0).keep(items, now: now)
        #expect(kept.count == 7)
        // Today's newest (now) and the last of each of the six days before.
        #expect(kept.contains("h0"))
        #expect(kept.contains("h13"))  // 2026-03-09T23:30
        #expect(!kept.contains("h157"))  // 2026-03-03T23:30 is the eighth day
    }

    @Test("each rule counts its own buckets; keepLast adds the newest; a union is kept")
    func combined() {
        let now = at("2026-03-10T12:30:00Z")
        let items = hourly(days: 60, until: now)
        let hours = RetentionPolicy(keepLast: 0, hourly: 24, daily: 0, weekly: 0, monthly: 0).keep(items, now: now)
        #expect(hours.count == 24)
        let last = RetentionPolicy(keepLast: 3, hourly: 0, daily: 0, weekly: 0, monthly: 0).keep(items, now: now)
        #expect(last == ["h0", "h1", "h2"])
        let weeks = RetentionPolicy(keepLast: 0, hourly: 0, daily: 0, weekly: 4, monthly: 0).keep(items, now: now)
        #expect(weeks.count == 4)
        let months = RetentionPolicy(keepLast: 0, hourly: 0, daily: 0, weekly: 0, monthly: 2).keep(items, now: now)
        #expect(months.count == 2)
        let all = RetentionPolicy(keepLast: 3, hourly: 24, daily: 7, weekly: 4, monthly: 2).keep(items, now: now)
        #expect(all == last.union(hours).union(RetentionPolicy(keepLast: 0, hourly: 0, daily: 7, weekly: 0, monthly: 0).keep(items, now: now))
            .union(weeks).union(months))
    }

    @Test("gaps: buckets without items keep nothing, older items are not pulled in to fill them")
    func gaps() {
        let now = at("2026-03-10T12:00:00Z")
        let items = [("a", at("2026-03-10T01:00:00Z")), ("b", at("2026-03-05T01:00:00Z")), ("c", at("2026-03-01T01:00:00Z"))]
        let kept = RetentionPolicy(keepLast: 0, hourly: 0, daily: 7, weekly: 0, monthly: 0).keep(items, now: now)
        #expect(kept == ["a", "b"])
    }

    @Test("nothing kept when every count is zero; an empty list is fine")
    func zero() {
        let now = at("2026-03-10T12:00:00Z")
        #expect(RetentionPolicy(keepLast: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0).keep(hourly(days: 2, until: now), now: now).isEmpty)
        #expect(RetentionPolicy(keepLast: 3, hourly: 24, daily: 7, weekly: 4, monthly: 12).keep([], now: now).isEmpty)
    }
}
