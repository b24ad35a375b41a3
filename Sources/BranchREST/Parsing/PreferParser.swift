/// `Prefer` headers: the preferences that change what a request does.
package enum PreferParser {
    /// Reads `return=`, `count=`, `resolution=` and `missing=default` from one or several headers, each a
    /// comma(-space) separated list; unknown or misspelt preferences are ignored, the first of a kind wins.
    package static func parse(_ headerValues: [String]) -> Preferences {
        var preferences = Preferences()
        let items = headerValues.flatMap { $0.split(separator: ",") }.map { String($0).trimmingSpaces.lowercased() }
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces }
            guard parts.count == 2 else { continue }
            switch (parts[0], parts[1]) {
            case ("return", let value) where preferences.returning == nil:
                preferences.returning = ["minimal": .minimal, "representation": .representation, "headers-only": .headersOnly][value]
            case ("count", let value) where preferences.count == nil:
                preferences.count = ["exact": .exact, "planned": .planned, "estimated": .estimated][value]
            case ("resolution", let value) where preferences.resolution == nil:
                preferences.resolution = ["merge-duplicates": .mergeDuplicates, "ignore-duplicates": .ignoreDuplicates][value]
            case ("missing", "default"):
                preferences.missingDefault = true
            default:
                continue
            }
        }
        return preferences
    }
}
