package import Foundation

/// Which automatic snapshots (or backups) a retention policy keeps: the newest `keepLast`, and
/// the newest one in each of the last `hourly` hours, `daily` days, `weekly` weeks and
/// `monthly` months (UTC buckets), as grandfather-father-son rotations do.
package struct RetentionPolicy: Sendable, Equatable, Codable {
    package var keepLast: Int
    package var hourly: Int
    package var daily: Int
    package var weekly: Int
    package var monthly: Int

    /// The ids to keep among `items` (id and time), as of `now`.
    package func keep(_ items: [(id: String, at: Date)], now: Date) -> Set<String> {
        let newestFirst = items.sorted { $0.at > $1.at }
        var kept = Set(newestFirst.prefix(max(0, keepLast)).map(\.id))
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let buckets: [(count: Int, component: Calendar.Component, key: (Date) -> DateComponents)] = [
            (hourly, .hour, { calendar.dateComponents([.year, .month, .day, .hour], from: $0) }),
            (daily, .day, { calendar.dateComponents([.year, .month, .day], from: $0) }),
            (weekly, .weekOfYear, { calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: $0) }),
            (monthly, .month, { calendar.dateComponents([.year, .month], from: $0) }),
        ]
        for bucket in buckets where bucket.count > 0 {
            // The last `count` buckets: now's and the `count - 1` before it (a window of `count`
            // days back from now would touch `count + 1` calendar days).
            let recent = Set((0..<bucket.count).compactMap { back in
                calendar.date(byAdding: bucket.component, value: -back, to: now).map(bucket.key)
            })
            var seen = Set<DateComponents>()
            for item in newestFirst {
                let key = bucket.key(item.at)
                if recent.contains(key) && seen.insert(key).inserted { kept.insert(item.id) }
            }
        }
        return kept
    }
}
