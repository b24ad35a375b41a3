import BranchSystem
import Crypto
import CryptoExtras
import Foundation

/// Password hashes: scrypt (memory-hard) with a random salt, stored as
/// `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>` so the cost can rise later without breaking
/// older hashes. Hashing costs about 32 MiB and a tenth of a second, so it runs on the blocking
/// pool, never on Swift's cooperative threads.
enum Passwords {
    /// N = 2^15, r = 8, p = 1: 32 MiB per hash.
    static let rounds = 1 << 15, blockSize = 8, parallelism = 1

    /// `rounds` lower than the default only in unit tests, which check the format, not the cost.
    static func hash(_ password: String, rounds: Int = Passwords.rounds) async throws -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        for index in salt.indices { salt[index] = UInt8.random(in: 0...255) }
        let derived = try await derive(password, salt: salt, rounds: rounds, blockSize: blockSize, parallelism: parallelism)
        return "scrypt$\(rounds)$\(blockSize)$\(parallelism)$\(Data(salt).base64EncodedString())$\(Data(derived).base64EncodedString())"
    }

    /// Whether `password` matches `stored` (compared in constant time).
    static func verify(_ password: String, against stored: String) async -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let rounds = Int(parts[1]), let blockSize = Int(parts[2]),
            let parallelism = Int(parts[3]), let salt = Data(base64Encoded: parts[4]), let expected = Data(base64Encoded: parts[5]),
            rounds <= 1 << 20, blockSize <= 16, parallelism <= 4
        else { return false }
        guard let derived = try? await derive(password, salt: [UInt8](salt), rounds: rounds, blockSize: blockSize, parallelism: parallelism),
            derived.count == expected.count
        else { return false }
        return zip(derived, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private static func derive(_ password: String, salt: [UInt8], rounds: Int, blockSize: Int, parallelism: Int) async throws -> [UInt8] {
        try await BlockingWork.run {
            let key = try KDF.Scrypt.deriveKey(
                from: Array(password.utf8), salt: salt, outputByteCount: 32, rounds: rounds, blockSize: blockSize,
                parallelism: parallelism, maxMemory: 64 << 20)
            return key.withUnsafeBytes { Array($0) }
        }
    }

    /// A password for a user made without one: 24 letters and digits.
    static func generate() -> String {
        let alphabet = Array("abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        return String((0..<24).map { _ in alphabet.randomElement()! })
    }
}

/// Management tokens' text and what the catalog keeps of it (only the SHA-256).
enum TokenText {
    /// `bt_` and 40 letters and digits.
    static func generate() -> String { "bt_" + String((0..<40).map { _ in alphabet.randomElement()! }) }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
}
