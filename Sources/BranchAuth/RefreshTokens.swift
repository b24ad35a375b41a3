/// Refresh tokens as GoTrue makes them: short random strings of lower-case letters and digits.
enum RefreshTokens {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")

    /// A new token: 22 characters, about 113 bits of randomness.
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<22).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}
