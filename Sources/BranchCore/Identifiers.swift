/// Random identifiers and secrets.
package enum Identifiers {
    private static let hex = Array("0123456789abcdef")
    private static let alphanumerics = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")

    /// A short lowercase hex id, e.g. for snapshots and operations (`8` characters = 32 bits).
    package static func shortID(length: Int = 8) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in hex[Int.random(in: 0..<hex.count, using: &generator)] })
    }

    /// A secret made of unambiguous letters and digits, safe in URLs and config files unquoted.
    package static func secret(length: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphanumerics[Int.random(in: 0..<alphanumerics.count, using: &generator)] })
    }
}
