/// Human-readable byte counts and their parsing (`20G`, `512M`, `1.5GiB`).
public enum ByteCount {
    private static let units = ["B", "KB", "MB", "GB", "TB", "PB"]

    /// `1536` → `1.5 KB` (binary multiples, as `df -h` shows them).
    public static func format(_ bytes: UInt64) -> String {
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
    public static func parse(_ text: String) -> UInt64? {
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
