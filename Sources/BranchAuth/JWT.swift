package import BranchCore
import Crypto
package import Foundation

/// HS256 JSON Web Tokens (RFC 7519), the only kind Supabase projects sign: API keys and access tokens.
package enum JWT {
    /// HS256 compact JWS of `claims` (header {"alg":"HS256","typ":"JWT"}), base64url without padding.
    package static func sign(_ claims: [String: JSONValue], secret: [UInt8]) -> String {
        let header = Base64URL.encode(#"{"alg":"HS256","typ":"JWT"}"#.utf8)
        let payload = Base64URL.encode(encode(claims))
        let signingInput = "\(header).\(payload)"
        let mac = HMAC<SHA256>.authenticationCode(for: Array(signingInput.utf8), using: SymmetricKey(data: secret))
        return "\(signingInput).\(Base64URL.encode(mac))"
    }

    /// Verifies the HS256 signature (constant-time), then exp/nbf/iat with `leeway` seconds of skew; returns the claims.
    /// `exp` is required: a token without one would be good forever once leaked (every key and
    /// access token Branch signs has one).
    package static func verify(
        _ token: String, secret: [UInt8], now: Date = Date(), leeway: TimeInterval = 30
    ) throws(JWTError) -> [String: JSONValue] {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3,
            let headerBytes = Base64URL.decode(segments[0]),
            let payloadBytes = Base64URL.decode(segments[1]),
            let signature = Base64URL.decode(segments[2]),
            let header = decodeObject(headerBytes),
            let claims = decodeObject(payloadBytes)
        else { throw .malformed }
        // Only HS256: `none` and every other algorithm are refused before the signature is looked at.
        guard header["alg"] == .string("HS256") else { throw .unsupportedAlgorithm }
        let signingInput = Array(token.utf8.prefix(segments[0].utf8.count + 1 + segments[1].utf8.count))
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signingInput, using: SymmetricKey(data: secret)) else {
            throw .badSignature
        }
        let current = now.timeIntervalSince1970
        guard let exp = try seconds(claims["exp"]) else { throw .missingExpiry }
        if current > exp + leeway { throw .expired }
        if let nbf = try seconds(claims["nbf"]), current + leeway < nbf { throw .notYetValid }
        if let iat = try seconds(claims["iat"]), current + leeway < iat { throw .notYetValid }
        return claims
    }

    /// Claims as compact JSON with sorted keys, so the same claims always sign to the same token.
    static func encode(_ claims: [String: JSONValue]) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A JSONValue always encodes (a non-finite number is the only failure, and claims hold none).
        return (try? encoder.encode(JSONValue.object(claims))).map { [UInt8]($0) } ?? Array("{}".utf8)
    }

    /// A JSON object segment, or nil.
    private static func decodeObject(_ bytes: [UInt8]) -> [String: JSONValue]? {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)))?.objectValue
    }

    /// A NumericDate claim: absent is nil, anything but a number makes the token malformed.
    private static func seconds(_ value: JSONValue?) throws(JWTError) -> Double? {
        switch value {
        case nil, .null?: nil
        case .integer(let value)?: Double(value)
        case .number(let value)?: value
        default: throw .malformed
        }
    }
}

/// Why a JWT was refused.
package enum JWTError: Error, Sendable, Equatable {
    case malformed, unsupportedAlgorithm, badSignature, expired, notYetValid
    /// Signed correctly but without an `exp` claim.
    case missingExpiry
}
