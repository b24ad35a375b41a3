import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A block of IP addresses in CIDR notation: `10.0.0.0/8`, `2001:db8::/32`, or one address
/// (`203.0.113.7` is `203.0.113.7/32`). What a project's allowlist is made of, written the same
/// way into PgBouncer's hba file, `pg_hba.conf` and matched by the HTTP API.
package struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The network address: 4 bytes (IPv4) or 16 (IPv6), host bits zero.
    package let bytes: [UInt8]
    package let prefixLength: Int

    /// Parses `text`; refuses what is not an address, a prefix out of range, and host bits set
    /// (`10.1.2.3/8` is more likely a typo for `/32` than a wish for all of 10/8).
    package init(parsing raw: String) throws(IPNetworkError) {
        let text = raw.trimmingCharacters(in: .whitespaces)
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let bytes = Self.addressBytes(String(parts[0]), allowZone: false) else {
            throw IPNetworkError(text: raw, reason: "is not an IPv4 or IPv6 address")
        }
        let bits = bytes.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber), let value = Int(parts[1]),
                (0...bits).contains(value)
            else {
                throw IPNetworkError(text: raw, reason: "has a prefix length that is not between 0 and \(bits)")
            }
            prefix = value
        }
        let network = Self.masked(bytes, prefix: prefix)
        guard network == bytes else {
            let suggestion = IPNetwork(bytes: network, prefixLength: prefix)
            throw IPNetworkError(
                text: raw, reason: "has host bits set; write \(suggestion) for the whole network, or /\(bits) for the one address")
        }
        self.bytes = bytes
        self.prefixLength = prefix
    }

    private init(bytes: [UInt8], prefixLength: Int) {
        self.bytes = bytes
        self.prefixLength = prefixLength
    }

    package var isIPv4: Bool { bytes.count == 4 }

    /// What one client is counted as by rate limits: an IPv4 address, or the /64 of an IPv6 one
    /// (one subscriber usually holds a whole /64, and could otherwise take a fresh address per try).
    /// Text that is no address is its own key.
    package static func limitKey(_ address: String) -> String {
        guard let bytes = addressBytes(address, allowZone: true) else { return address }
        return bytes.count == 4 ? address : IPNetwork(bytes: masked(bytes, prefix: 64), prefixLength: 64).description
    }

    /// Canonical CIDR form (`10.0.0.0/8`, `2001:db8::/32`), as hba files take it.
    package var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = isIPv4 ? AF_INET : AF_INET6
        let text = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)).map { _ in
                String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return "\(text ?? "?")/\(prefixLength)"
    }

    /// Whether the address (in `addressBytes` form) is inside this network; IPv4 and IPv6 never match each other.
    package func contains(_ address: [UInt8]) -> Bool {
        address.count == bytes.count && Self.masked(address, prefix: prefixLength) == bytes
    }

    /// A client address as bytes: 4 for IPv4 and IPv4-mapped IPv6 (`::ffff:127.0.0.1`, what a
    /// dual-stack socket reports for an IPv4 client), 16 for IPv6; a zone (`fe80::1%eth0`) is
    /// ignored. Nil for anything else.
    package static func addressBytes(_ text: String, allowZone: Bool = true) -> [UInt8]? {
        var text = text
        if allowZone, let percent = text.firstIndex(of: "%") { text = String(text[..<percent]) }
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = [UInt8](repeating: 0, count: 4)
        if text.contains("."), !text.contains(":"), inet_pton(AF_INET, text, &v4) == 1 { return v4 }
        var v6 = [UInt8](repeating: 0, count: 16)
        guard text.contains(":"), inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        if v6.prefix(10).allSatisfy({ $0 == 0 }) && v6[10] == 0xFF && v6[11] == 0xFF { return Array(v6.suffix(4)) }
        return v6
    }

    static func masked(_ bytes: [UInt8], prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let kept = max(0, min(8, prefix - index * 8))
            return kept == 8 ? byte : byte & UInt8(truncatingIfNeeded: 0xFF << (8 - kept))
        }
    }
}

/// The networks a project's clients may come from. Empty means open to every address.
package struct Allowlist: Sendable, Hashable {
    package let networks: [IPNetwork]

    package init(_ networks: [IPNetwork] = []) {
        var seen = Set<IPNetwork>()
        self.networks = networks.filter { seen.insert($0).inserted }
    }

    /// Parses each item (a CIDR or an address); empty items are skipped, so `""` is the open list.
    package init(parsing items: [String]) throws(IPNetworkError) {
        var networks: [IPNetwork] = []
        for item in items where !item.trimmingCharacters(in: .whitespaces).isEmpty {
            networks.append(try IPNetwork(parsing: item))
        }
        self.init(networks)
    }

    /// A stored list (`10.0.0.0/8,192.168.1.0/24`; nil or empty: open). Items that no longer
    /// parse are dropped, which can only narrow the list: it stays closed if nothing is left.
    package init(stored: String?) {
        let items = (stored ?? "").split(separator: ",").map(String.init)
        let networks = items.compactMap { try? IPNetwork(parsing: $0) }
        self.init(networks.isEmpty && !items.isEmpty ? [Self.nowhere] : networks)
    }

    /// How the catalog stores it: comma-separated CIDRs, nil when open.
    package var stored: String? { isOpen ? nil : entries.joined(separator: ",") }

    package var entries: [String] { networks.map(\.description) }

    package var isOpen: Bool { networks.isEmpty }

    /// Whether a client at `address` may connect. An open list allows everyone; a closed one
    /// refuses an address it cannot read (fail closed).
    package func allows(_ address: String?) -> Bool {
        if isOpen { return true }
        guard let address, let bytes = IPNetwork.addressBytes(address) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    /// Matches no client: what a stored list that no longer parses becomes.
    static let nowhere = try! IPNetwork(parsing: "255.255.255.255/32")
}

/// A CIDR that does not parse.
package struct IPNetworkError: ReportableError {
    package let text: String
    package let reason: String
    package var code: ErrorCode { .invalidCIDR }
    package var message: String { "'\(text)' \(reason)." }
    package var hint: String? {
        "Give CIDRs such as 203.0.113.0/24 or 2001:db8::/32, or single addresses, separated by commas; an empty list (--allow '') opens the project to every address."
    }
}
