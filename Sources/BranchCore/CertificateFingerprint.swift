/// A certificate's SHA-256 fingerprint as people compare it: 32 bytes as uppercase hex pairs
/// joined by colons (`AB:01:…`), the form `openssl x509 -fingerprint -sha256` prints. The hash
/// itself is computed by the caller (over the certificate's DER bytes) with swift-crypto.
package enum CertificateFingerprint {
    /// `digest` (32 bytes) as `AB:01:…`.
    package static func format(_ digest: some Sequence<UInt8>) -> String {
        digest.map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    /// Reads a fingerprint as a person may paste it: with or without colons or spaces, either
    /// case, optionally after `SHA256:`, `sha256 Fingerprint=` or `SHA256 Fingerprint=`.
    /// Returns the canonical `AB:01:…` form, or nil when it is not 32 bytes of hex.
    package static func normalized(_ text: String) -> String? {
        var body = Substring(text.filter { !$0.isWhitespace || $0 == " " })
        if let equals = body.lastIndex(of: "="), body[..<equals].lowercased().contains("fingerprint") {
            body = body[body.index(after: equals)...]
        }
        while body.first == " " { body = body.dropFirst() }
        if body.lowercased().hasPrefix("sha256:") { body = body.dropFirst("sha256:".count) }
        let digits = body.filter { $0 != ":" && $0 != " " }
        guard digits.count == 64, digits.allSatisfy(\.isHexDigit) else { return nil }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return format(bytes)
    }
}

/// Which `--listen` hosts are this machine only: plain HTTP (`--tls off`) is served there and
/// nowhere else, for a proxy on the same machine.
package enum LoopbackHost {
    /// `localhost`, `127.0.0.0/8` and `::1` (also bracketed or IPv4-mapped).
    package static func contains(_ host: String) -> Bool {
        var host = host.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        if host.hasPrefix("::ffff:") { host = String(host.dropFirst("::ffff:".count)) }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && UInt8($0) != nil }) else { return false }
        return parts[0] == "127"
    }
}
