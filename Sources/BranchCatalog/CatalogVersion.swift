import GRDB

extension Catalog {
    /// The catalog schema this build knows: the number of its newest migration ("v7: …" is 7).
    /// A release's manifest names the oldest schema its binary can migrate from.
    package static var schemaVersion: Int {
        migrator.migrations.compactMap { name -> Int? in
            guard name.hasPrefix("v") else { return nil }
            return Int(name.dropFirst().prefix { $0.isNumber })
        }.max() ?? 0
    }
}
