/// Human-readable byte counts and their parsing (`20G`, `512M`, `1.5GiB`).
package enum ByteCount {
    private static let units = ["B", "KB", "MB", "GB", "TB", "PB"]

    /// `1536` → `1.5 KB` (binary multiples, as `df -h` shows them).
    package static func format(_ bytes: UInt64) -> String {
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(bytes) B" }
        let rounded = value >= 100 ? String(Int(value.rounded())) : String((value * 10).rounded() / 10)
        return "\(rounded) \(units[unit])"
    }

    /// Parses `20G`, `20GiB`, `512M`, `1024` (bytes). Returns nil for anything else.
    package static func parse(_ text: String) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: " ").uppercased()
        var number = ""
        var suffix = ""
        for character in trimmed {
            if suffix.isEmpty && (character.isNumber || character == ".") { number.append(character) } else { suffix.append(character) }
        }
        guard let value = Double(number), value >= 0 else { return nil }
        let shifts: [String: UInt64] = [
            "": 0, "B": 0,
            "K": 10, "KB": 10, "KIB": 10,
            "M": 20, "MB": 20, "MIB": 20,
            "G": 30, "GB": 30, "GIB": 30,
            "T": 40, "TB": 40, "TIB": 40,
        ]
        guard let shift = shifts[suffix] else { return nil }
        return UInt64(value * Double(UInt64(1) << shift))
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var result = Substring(self)
        while result.first == set { result.removeFirst() }
        while result.last == set { result.removeLast() }
        return String(result)
    }
}

/// Human durations for settings: `90s`, `15m`, `2h`, `1d`, a bare number of seconds, or `off` (0).
package enum Seconds {
    package static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: " ").lowercased()
        if trimmed == "off" || trimmed == "never" { return 0 }
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let unit = trimmed.last, let multiplier = units[unit], let value = Int(trimmed.dropLast()), value >= 0 {
            return value * multiplier
        }
        return Int(trimmed).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// `0` → `off`, `900` → `15m`, `5400` → `90m`, `7200` → `2h`.
    package static func format(_ seconds: Int) -> String {
        switch seconds {
        case 0: "off"
        case let s where s % 86400 == 0: "\(s / 86400)d"
        case let s where s % 3600 == 0: "\(s / 3600)h"
        case let s where s % 60 == 0: "\(s / 60)m"
        default: "\(seconds)s"
        }
    }
}
