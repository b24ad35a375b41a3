import Crypto
import CryptoExtras
import Foundation

/// SCRAM-SHA-256 password verifiers in the form Postgres stores in `pg_authid` and PgBouncer
/// reads from its auth file, so neither ever sees the plain password in a file.
package enum Scram {
    package static let iterations = 4096

    /// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` for `password`.
    ///
    /// The password is used as given (no SASLprep): Branch generates ASCII passwords.
    package static func verifier(password: String, salt: [UInt8]? = nil, iterations: Int = iterations) throws -> String {
        let salt = salt ?? (0..<16).map { _ in UInt8.random(in: 0...255) }
        let salted = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32, unsafeUncheckedRounds: iterations)
        let clientKey = HMAC<SHA256>.authenticationCode(for: Array("Client Key".utf8), using: salted)
        let storedKey = SHA256.hash(data: Data(clientKey))
        let serverKey = HMAC<SHA256>.authenticationCode(for: Array("Server Key".utf8), using: salted)
        return "SCRAM-SHA-256$\(iterations):\(Data(salt).base64EncodedString())$"
            + "\(Data(storedKey).base64EncodedString()):\(Data(serverKey).base64EncodedString())"
    }
}
