import BranchCore
import BranchEngine
import Crypto
import Foundation
import HTTPTypes

/// The HTTP side of a project's IP allowlist: every request that reaches a project (its
/// management routes, its data API and agent documents, MCP tool calls made for it) comes from
/// an address on the list, or is refused with `403 address_not_allowed`. Nobody is exempt, the
/// instance admin included, with one narrow way back in: the instance admin may still read and
/// change the project's settings from the machine itself (loopback), so a list that locks
/// everyone out can be repaired on the server (`branch project set P --allow …`).
enum AllowlistGuard {
    /// The operations the instance admin may call from loopback whatever the list says.
    static let recoveryOperations: Set<String> = ["getProject", "updateProject"]

    /// Throws `AddressNotAllowed` unless `address` may reach `project`.
    static func require(_ project: String, address: String?, engine: Engine, caller: APICaller = .unauthenticated, operationID: String? = nil)
        async throws
    {
        let allowlist = try await engine.projects.allowlist(of: project)
        if allowlist.allows(address) { return }
        if let operationID, recoveryOperations.contains(operationID), caller.isInstanceAdmin, isLoopback(address) { return }
        throw AddressNotAllowed(project: project, address: address)
    }

    static func isLoopback(_ address: String?) -> Bool {
        guard let address, let bytes = IPNetwork.addressBytes(address) else { return false }
        return bytes.count == 4 ? bytes[0] == 127 : bytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    struct AddressNotAllowed: ReportableError {
        let project: String
        let address: String?
        var code: ErrorCode { .addressNotAllowed }
        var message: String { "Project '\(project)' does not accept requests from \(address ?? "an unknown address"): it is not on the project's allowlist." }
        var hint: String? {
            "From an allowed address, an owner adds yours: `branch project set \(project) --allow CIDR[,CIDR…]` (`branch project show \(project)` lists them); on the server itself the instance admin can always change it."
        }
    }
}

/// How `/mcp` tells the service's own API, which its tools call over loopback, whom a call is
/// really for: the original client's address, vouched for by a key only this process knows. A
/// request without the right key cannot claim another address.
enum MCPRelay {
    static let addressHeader = HTTPField.Name("X-Branch-Relayed-Client")!
    static let keyHeader = HTTPField.Name("X-Branch-Relay-Key")!
    /// Made at start, never stored or logged.
    static let key = Identifiers.secret()
    private static let keyDigest = SHA256.hash(data: Data(key.utf8))

    /// The relayed client address of a request from the MCP endpoint; nil for any other request.
    static func relayedAddress(_ fields: HTTPFields) -> String? {
        guard let presented = fields[keyHeader], let address = fields[addressHeader],
            SHA256.hash(data: Data(presented.utf8)) == keyDigest
        else { return nil }
        return address
    }
}
