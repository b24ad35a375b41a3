package import Foundation

/// A position in a server's write-ahead log (an LSN), as Postgres writes it: two hexadecimal
/// numbers, the high and low 32 bits, like `0/16B3748` (what `pg_current_wal_lsn()` answers).
package struct WALPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    package let value: UInt64

    package init(_ value: UInt64) {
        self.value = value
    }

    /// `X/Y`, each 1 to 8 hexadecimal digits; nil for anything else.
    package init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ (1...8).contains($0.count) && $0.allSatisfy(\.isHexDigit) }),
            let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16)
        else { return nil }
        value = high << 32 | low
    }

    package var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    package static func < (lhs: WALPosition, rhs: WALPosition) -> Bool { lhs.value < rhs.value }
}

/// A past point of a branch: an instant, or a position in its WAL. As users write it: an LSN
/// (`0/16B3748`), or anything `Instant.parse` reads.
package enum PastPoint: Sendable, Hashable, CustomStringConvertible {
    case instant(Date)
    case position(WALPosition)

    package static func parse(_ text: String, now: Date = Date()) -> PastPoint? {
        if let position = WALPosition(text) { return .position(position) }
        return Instant.parse(text, now: now).map(PastPoint.instant)
    }

    package var instant: Date? {
        if case .instant(let date) = self { date } else { nil }
    }

    package var position: WALPosition? {
        if case .position(let position) = self { position } else { nil }
    }

    package var description: String {
        switch self {
        case .instant(let date): ISO8601DateFormatter().string(from: date)
        case .position(let position): position.description
        }
    }
}
