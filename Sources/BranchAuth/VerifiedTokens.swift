package import BranchCore
package import Foundation
import Synchronization

/// JWTs already verified, so a key sent with every request is checked once: a token is looked up
/// with the secret that must have signed it (a rotated secret misses) and its time claims are
/// checked again on every use. Bounded: past `capacity` tokens, it starts over.
package final class VerifiedTokens: Sendable {
    package struct Verified: Sendable {
        package var claims: [String: JSONValue]
        /// The claims as JSON text (keys sorted), what `request.jwt.claims` gets.
        package var claimsJSON: String
    }

    private struct Entry {
        var secret: [UInt8]
        var verified: Verified
        var expiresAt: Double?
        var notBefore: Double?
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let capacity: Int

    package init(capacity: Int = 10_000) { self.capacity = capacity }

    /// Tokens in memory.
    package var count: Int { entries.withLock { $0.count } }

    /// The token's claims, verified with `secret` (see `JWT.verify`) now or before.
    package func verify(_ token: String, secret: [UInt8], now: Date = Date(), leeway: TimeInterval = 30) throws(JWTError) -> Verified {
        let time = now.timeIntervalSince1970
        if let entry = entries.withLock({ $0[token] }), entry.secret == secret {
            if let expiresAt = entry.expiresAt, time > expiresAt + leeway { throw .expired }
            if let notBefore = entry.notBefore, time < notBefore - leeway { throw .notYetValid }
            return entry.verified
        }
        let claims = try JWT.verify(token, secret: secret, now: now, leeway: leeway)
        let verified = Verified(claims: claims, claimsJSON: JSONText.encode(.object(claims)))
        // `iat` in the future is refused like `nbf` (see JWT.verify).
        let notBefore = [Self.number(claims["nbf"]), Self.number(claims["iat"])].compactMap { $0 }.max()
        let entry = Entry(secret: secret, verified: verified, expiresAt: Self.number(claims["exp"]), notBefore: notBefore)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = entry
        }
        return verified
    }

    private static func number(_ value: JSONValue?) -> Double? {
        switch value {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }
}
