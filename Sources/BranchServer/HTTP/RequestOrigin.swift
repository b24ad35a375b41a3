package import BranchCore
import Foundation
import HTTPTypes
import Hummingbird

/// The scheme and address a request was sent to (`https://127.0.0.1:8420`), for answers that name
/// the service's own URLs (a project's data API base URL), and the client's address (the audit
/// log, sign-in limits, allowlists). The generated API handlers never see the request itself, so
/// a middleware hands both down as task-local values.
enum RequestOrigin {
    @TaskLocal static var current: String?
    /// The client's address: the connection's peer, or what a trusted proxy says it forwarded for.
    @TaskLocal static var clientAddress: String?
}

struct RequestOriginMiddleware<Context: RequestContext & RemoteAddressRequestContext>: RouterMiddleware {
    /// Peers whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed (`--trusted-proxy`).
    var proxies = TrustedProxies()
    /// Whether the service itself serves HTTPS (the request head says `http` either way).
    var tls = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let client = proxies.client(
            peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[values: .xForwardedFor],
            forwardedProto: request.headers[.xForwardedProto])
        let scheme = client.scheme ?? (tls ? "https" : request.head.scheme ?? "http")
        let origin = request.head.authority.map { "\(scheme)://\($0)" }
        return try await RequestOrigin.$current.withValue(origin) {
            // A call the service's /mcp makes for a client is seen as coming from that client.
            try await RequestOrigin.$clientAddress.withValue(MCPRelay.relayedAddress(request.headers) ?? client.address) {
                try await next(request, context)
            }
        }
    }
}

/// The proxies in front of the service (Caddy, Traefik: `--trusted-proxy CIDR[,CIDR]`). Only a
/// connection from one of them may say, in `X-Forwarded-For`, whom it forwards for; from anyone
/// else the header is ignored, so a client cannot pick the address it is seen (and allowed,
/// limited and audited) as.
package struct TrustedProxies: Sendable {
    package let networks: [IPNetwork]

    package init(_ networks: [IPNetwork] = []) { self.networks = networks }

    /// Parses `--trusted-proxy` values, each a comma-separated list of CIDRs or addresses.
    package init(parsing values: [String]) throws(IPNetworkError) {
        var networks: [IPNetwork] = []
        for value in values {
            for item in value.split(separator: ",") where !item.allSatisfy(\.isWhitespace) {
                networks.append(try IPNetwork(parsing: String(item)))
            }
        }
        self.init(networks)
    }

    func trusts(_ address: String?) -> Bool {
        guard let address, let bytes = IPNetwork.addressBytes(address) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    /// The client a request comes from, and the scheme it used when a trusted proxy says so.
    /// `X-Forwarded-For` lists every hop, each proxy appending the one it heard from: read from
    /// the right, the first address that is not a trusted proxy is the client (what is left of
    /// it, the client could have written itself). An entry that is not an address ends the walk
    /// at the proxy that passed it on.
    func client(peer: String?, forwardedFor: [String], forwardedProto: String?) -> (address: String?, scheme: String?) {
        guard trusts(peer) else { return (peer, nil) }
        var address = peer
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard let hopAddress = Self.address(hop) else { break }
            address = hopAddress
            if !trusts(hopAddress) { break }
        }
        let proto = forwardedProto?.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return (address, proto == "https" || proto == "http" ? proto : nil)
    }

    /// An address as a hop names it (`203.0.113.9`, `2001:db8::1`, `[2001:db8::1]:4711`,
    /// `203.0.113.9:4711`), without a port; nil when it is not one.
    static func address(_ hop: String) -> String? {
        var text = Substring(hop)
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            text = text[text.index(after: text.startIndex)..<close]
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            text = text[..<colon]
        }
        let candidate = String(text)
        return IPNetwork.addressBytes(candidate, allowZone: false) == nil ? nil : candidate
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let xForwardedProto = Self("X-Forwarded-Proto")!
}
