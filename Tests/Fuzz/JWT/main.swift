// libFuzzer entry: JWT verification as every data API and auth request with a key or bearer token
// runs it (`JWT.verify`, behind VerifiedTokens and BearerToken). Compiled by scripts/fuzz.sh with
// Sources/BranchAuth/JWT.swift and Base64URL.swift into a module named BranchAuth, linked with the
// BranchCore module and swift-crypto.
import BranchCore
import Crypto
import Foundation

/// The secret tokens are verified with, and a fixed "now" (2025-06-15) so runs are reproducible.
private let secret = Array("fuzz-secret-fuzz-secret-fuzz-secret!!".utf8)
private let now = Date(timeIntervalSince1970: 1_750_000_000)

/// Two modes, so the fuzzer gets past the signature check as well as before it:
/// - input starting with `{`: a header JSON, a newline, a payload JSON; the harness encodes and
///   signs them with the secret (a token an attacker holding a key could not forge, but whose
///   claims the verifier must still survive), so alg and claim checks are reached;
/// - anything else: the token as sent.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWT(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // base64url must round-trip whatever it is given.
    guard Base64URL.decode(Substring(Base64URL.encode(bytes))) == bytes else { fatalError("base64url round trip") }
    if bytes.first == UInt8(ascii: "{") {
        let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
        let header = Base64URL.encode(bytes[..<newline])
        let payload = Base64URL.encode(bytes[min(newline + 1, bytes.endIndex)...])
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(header).\(payload)".utf8), using: SymmetricKey(data: secret))
        let token = "\(header).\(payload).\(Base64URL.encode(mac))"
        do {
            _ = try JWT.verify(token, secret: secret, now: now)
        } catch {
            guard error != .badSignature else { fatalError("a token signed with the secret failed its signature check") }
        }
    } else {
        let token = String(decoding: bytes, as: UTF8.self)
        _ = try? JWT.verify(token, secret: secret, now: now)
    }
    return 0
}
