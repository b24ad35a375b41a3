import BranchCore
@testable import BranchCatalog
@testable import BranchEngine
import BranchPostgres
@testable import BranchServer
import Foundation
import HTTPTypes
import Testing

@Suite("IP allowlists: CIDRs, matching, hba files")
struct AllowlistTests {
    @Test("CIDRs and single addresses parse to their canonical form")
    func parsing() throws {
        #expect(try IPNetwork(parsing: "10.0.0.0/8").description == "10.0.0.0/8")
        #expect(try IPNetwork(parsing: " 192.168.1.0/24 ").description == "192.168.1.0/24")
        #expect(try IPNetwork(parsing: "203.0.113.7").description == "203.0.113.7/32")
        #expect(try IPNetwork(parsing: "0.0.0.0/0").description == "0.0.0.0/0")
        #expect(try IPNetwork(parsing: "2001:DB8::/32").description == "2001:db8::/32")
        #expect(try IPNetwork(parsing: "::1").description == "::1/128")
        #expect(try IPNetwork(parsing: "::/0").description == "::/0")
    }

    @Test("what is not a CIDR is refused with invalid_cidr and says why", arguments: [
        "", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0.256/32", "10.0.0/8", "example.com", "10.0.0.0/08x",
        "2001:db8::/129", "fe80::1%eth0", "10.1.2.3/8", "2001:db8::1/32", "1.2.3.4; DROP", "10.0.0.0 /8", "10.0.0.0/٨",
    ])
    func refused(text: String) {
        #expect {
            try IPNetwork(parsing: text)
        } throws: { error in
            guard let error = error as? IPNetworkError else { return false }
            return error.code == .invalidCIDR && (text.isEmpty || error.message.contains(text)) && error.hint?.contains("--allow ''") == true
        }
    }

    @Test("host bits set: the message suggests the network")
    func hostBits() {
        #expect {
            try IPNetwork(parsing: "10.1.2.3/8")
        } throws: { error in
            (error as? IPNetworkError)?.message.contains("10.0.0.0/8") == true
        }
    }

    @Test("matching: inside, outside, IPv4-mapped clients, families never mix")
    func matching() throws {
        let list = try Allowlist(parsing: ["10.0.0.0/8", "2001:db8::/32", "192.168.1.7"])
        #expect(list.allows("10.200.3.4"))
        #expect(list.allows("::ffff:10.1.1.1"))
        #expect(list.allows("2001:db8:ffff::1"))
        #expect(list.allows("[2001:db8::5]"))
        #expect(list.allows("192.168.1.7"))
        #expect(!list.allows("192.168.1.8"))
        #expect(!list.allows("11.0.0.1"))
        #expect(!list.allows("127.0.0.1"))
        #expect(!list.allows("::1"))
        #expect(!list.allows("2001:db9::1"))
        // An address the service cannot read is refused when a list is set (fail closed).
        #expect(!list.allows(nil))
        #expect(!list.allows("unknown"))
        let ipv4Everything = try Allowlist(parsing: ["0.0.0.0/0"])
        #expect(ipv4Everything.allows("203.0.113.1"))
        #expect(!ipv4Everything.allows("2001:db8::1"))
    }

    @Test("an empty list is open to every address, unknown ones included")
    func open() throws {
        let list = try Allowlist(parsing: [""])
        #expect(list.isOpen)
        #expect(list.allows("203.0.113.1"))
        #expect(list.allows(nil))
        #expect(list.stored == nil)
        #expect(Allowlist(stored: nil).isOpen)
        #expect(Allowlist(stored: "").isOpen)
    }

    @Test("the stored form round-trips, without duplicates; a stored list that no longer parses stays closed")
    func stored() throws {
        let list = try Allowlist(parsing: ["10.0.0.0/8", "10.0.0.0/8", "::1"])
        #expect(list.entries == ["10.0.0.0/8", "::1/128"])
        #expect(list.stored == "10.0.0.0/8,::1/128")
        #expect(Allowlist(stored: list.stored) == list)
        let damaged = Allowlist(stored: "not-a-network")
        #expect(!damaged.isOpen)
        #expect(!damaged.allows("127.0.0.1"))
        #expect(!damaged.allows("255.255.255.254"))
    }

    @Test("pg_hba.conf: sockets stay open to the service; TCP only from the list (all when open)")
    func branchHBA() throws {
        let closed = ClusterFiles.hba(allowing: try Allowlist(parsing: ["10.0.0.0/8", "2001:db8::/32"]))
        #expect(closed.contains("local   all   postgres                 trust\n"))
        #expect(closed.contains("local   all   all                      scram-sha-256\n"))
        #expect(closed.contains("host    all   all        10.0.0.0/8     scram-sha-256\n"))
        #expect(closed.contains("host    all   all        2001:db8::/32     scram-sha-256\n"))
        #expect(!closed.contains("0.0.0.0/0"))
        #expect(!closed.contains("::/0"))
        #expect(closed.components(separatedBy: "\nhost ").count - 1 == 2)
        let open = ClusterFiles.hba()
        #expect(open.contains("host    all   all        0.0.0.0/0     scram-sha-256\n"))
        #expect(open.contains("host    all   all        ::/0     scram-sha-256\n"))
        // No line trusts a TCP client.
        for line in (closed + open).split(separator: "\n") where line.hasPrefix("host") {
            #expect(line.hasSuffix("scram-sha-256"))
        }
    }

    @Test("PgBouncer's hba file: the admin socket, then each entry's role from its project's networks")
    func poolerHBA() throws {
        let text = Pooler.renderHBA(entries: [
            PoolerEntry(name: "shop__main", port: 54400, database: "shop", role: "shop", allowlist: try Allowlist(parsing: ["10.0.0.0/8"])),
            PoolerEntry(name: "shop", port: 54400, database: "shop", role: "shop", allowlist: try Allowlist(parsing: ["10.0.0.0/8"])),
            PoolerEntry(name: "blog__main", port: 54401, database: "blog", role: "blog", allowlist: Allowlist()),
        ])
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[1] == "local   all   all   scram-sha-256")
        #expect(lines.contains("host   shop   shop   10.0.0.0/8   scram-sha-256"))
        #expect(lines.contains("host   shop__main   shop   10.0.0.0/8   scram-sha-256"))
        #expect(lines.contains("host   blog__main   blog   0.0.0.0/0   scram-sha-256"))
        #expect(lines.contains("host   blog__main   blog   ::/0   scram-sha-256"))
        #expect(!lines.contains { $0.hasPrefix("host") && $0.contains("shop") && $0.contains("0.0.0.0/0") })
        #expect(!text.contains("trust"))
        // Sorted, so a rewrite with the same entries is byte-identical.
        #expect(text.range(of: "blog__main")!.lowerBound < text.range(of: "host   shop ")!.lowerBound)
    }

    @Test("project settings: a bad CIDR is refused before anything changes; '' clears")
    func settings() throws {
        #expect(throws: IPNetworkError.self) { try ProjectSettings(allowlist: ["10.0.0.0/8", "nope"]).validate() }
        var project = ProjectRecord(
            name: try ResourceName(validating: "shop"), state: .ready, pgMajor: 15, role: "shop", database: "shop", password: "p",
            verifier: "v", checkedOut: .main, createdAt: Date(), operationID: nil)
        ProjectSettings(allowlist: ["10.0.0.0/8", "2001:db8::/32"]).apply(to: &project)
        #expect(project.allowlist == "10.0.0.0/8,2001:db8::/32")
        ProjectSettings(memoryBytes: 0).apply(to: &project)
        #expect(project.allowlist == "10.0.0.0/8,2001:db8::/32")
        ProjectSettings(allowlist: []).apply(to: &project)
        #expect(project.allowlist == nil)
    }

    @Test("the HTTP guard: loopback, and MCP relays vouched for only by the process's key")
    func relay() {
        #expect(AllowlistGuard.isLoopback("127.0.0.1"))
        #expect(AllowlistGuard.isLoopback("127.3.0.1"))
        #expect(AllowlistGuard.isLoopback("::1"))
        #expect(AllowlistGuard.isLoopback("::ffff:127.0.0.1"))
        #expect(!AllowlistGuard.isLoopback("10.0.0.1"))
        #expect(!AllowlistGuard.isLoopback(nil))
        var fields = HTTPFields()
        fields[MCPRelay.addressHeader] = "203.0.113.9"
        #expect(MCPRelay.relayedAddress(fields) == nil)
        fields[MCPRelay.keyHeader] = "guessed"
        #expect(MCPRelay.relayedAddress(fields) == nil)
        fields[MCPRelay.keyHeader] = MCPRelay.key
        #expect(MCPRelay.relayedAddress(fields) == "203.0.113.9")
    }
}
