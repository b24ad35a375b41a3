@testable import BranchAuth
import BranchCore
import Foundation
import Testing

@Suite("Verified tokens")
struct VerifiedTokensTests {
    let secret = Array("a secret of enough length for HS256".utf8)

    @Test("a token verified once is served from memory, still checked against its secret and its expiry")
    func cachedButChecked() throws {
        let tokens = VerifiedTokens()
        let now = Date()
        let token = JWT.sign(["role": "anon", "exp": .integer(Int(now.timeIntervalSince1970) + 60)], secret: secret)
        let first = try tokens.verify(token, secret: secret, now: now)
        #expect(first.claims["role"] == "anon")
        #expect(first.claimsJSON.hasPrefix(#"{"exp":"#))
        #expect(try tokens.verify(token, secret: secret, now: now).claimsJSON == first.claimsJSON)
        // A rotated secret misses the cache and fails verification.
        #expect(throws: JWTError.badSignature) { try tokens.verify(token, secret: Array("another secret, rotated".utf8), now: now) }
        // The cached entry still expires.
        #expect(throws: JWTError.expired) { try tokens.verify(token, secret: secret, now: now.addingTimeInterval(60 + 31)) }
        // A token without exp is refused, also the second time.
        let forever = JWT.sign(["role": "anon"], secret: secret)
        #expect(throws: JWTError.missingExpiry) { try tokens.verify(forever, secret: secret, now: now) }
        #expect(throws: JWTError.missingExpiry) { try tokens.verify(forever, secret: secret, now: now) }
        #expect(throws: JWTError.notYetValid) {
            let future = JWT.sign(
                ["role": "anon", "nbf": .integer(Int(now.timeIntervalSince1970) + 600), "exp": .integer(Int(now.timeIntervalSince1970) + 3600)], secret: secret)
            _ = try tokens.verify(future, secret: secret, now: now)
        }
    }

    @Test("the cache is bounded")
    func bounded() throws {
        let tokens = VerifiedTokens(capacity: 3)
        for index in 0..<10 {
            let exp = JSONValue.integer(Int(Date().timeIntervalSince1970) + 3600)
            _ = try tokens.verify(JWT.sign(["role": "anon", "n": .integer(index), "exp": exp], secret: secret), secret: secret)
        }
        #expect(tokens.count <= 3)
    }

    @Test("base64url decodes byte by byte, with or without padding, and refuses other alphabets")
    func base64url() {
        #expect(Base64URL.decode("aGVsbG8") == Array("hello".utf8))
        #expect(Base64URL.decode("aGVsbG8=") == Array("hello".utf8))
        #expect(Base64URL.decode("-_8") == [0xFB, 0xFF])
        #expect(Base64URL.decode("") == [])
        #expect(Base64URL.decode("a+b/") == nil)
        #expect(Base64URL.decode("abcde") == nil)
        #expect(Base64URL.decode(Substring(Base64URL.encode(Array(0...255)))) == Array(0...255))
    }
}
