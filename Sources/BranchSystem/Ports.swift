import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Checks whether a TCP port can be bound, so a new branch does not collide with some other
/// program on the host.
package enum PortProbe {
    package static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = ipv4(INADDR_ANY, port: port)
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }

    /// Whether another program listens on `port`, on any IPv4 or IPv6 address. Unlike `isFree`, a
    /// port held only by connections in TIME_WAIT (a server of ours that just stopped) counts as free,
    /// as it does for Postgres, which binds with SO_REUSEADDR. Checked before a branch server starts:
    /// Postgres starts when it can bind only some of its listen addresses (a program on 127.0.0.1:port
    /// does not stop it listening on ::1), and clients of the other address would reach that program.
    package static func isHeld(_ port: Int) -> Bool {
        !canBind(family: AF_INET, port: port) || !canBind(family: AF_INET6, port: port)
    }

    private static func canBind(family: Int32, port: Int) -> Bool {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return family == AF_INET6 }  // no IPv6 on this host: nothing can hold it there
        defer { close(fd) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<Int32>.size)) }
        if family == AF_INET {
            var address = ipv4(INADDR_ANY, port: port)
            return withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port).bigEndian)
        address.sin6_addr = in6addr_any
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 }
        }
        // EADDRNOTAVAIL: IPv6 is disabled, so nothing listens there either.
        return bound || errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT
    }

    /// Binds `fd` to a port of the kernel's choice on 127.0.0.1; that port, or nil.
    package static func bindLoopback(_ fd: Int32) -> Int? {
        var address = ipv4(inet_addr("127.0.0.1"), port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port` (a connect, no process).
    package static func acceptsConnections(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = ipv4(inet_addr("127.0.0.1"), port: port)
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private static func ipv4(_ host: in_addr_t, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = host
        return address
    }
}

/// Keeps the kernel from handing out the branch port range as ephemeral ports: a suspended
/// branch's port is free, and any outgoing connection on the host (a CLI call, PgBouncer's server
/// connections) may otherwise get it as its local port and hold it, in TIME_WAIT too, so that the
/// branch cannot listen on it when it resumes. The range goes into
/// `net.ipv4.ip_local_reserved_ports` while the service runs; `marker` (a file in the pool)
/// records that this service added it, so a clean stop, or the stop after a crash, takes out
/// exactly that and never a reservation the administrator made.
package enum ReservedPorts {
    package static let setting = "/proc/sys/net/ipv4/ip_local_reserved_ports"

    /// Reserves `range` unless it is reserved already by someone else; returns whether this call
    /// reserved it (or it was left reserved by this pool's previous run).
    @discardableResult
    package static func reserve(_ range: ClosedRange<Int>, marker: String, setting: String = setting) -> Bool {
        withSettingLocked { reserveLocked(range, marker: marker, setting: setting) }
    }

    private static func reserveLocked(_ range: ClosedRange<Int>, marker: String, setting: String) -> Bool {
        guard let current = Files.read(setting).map(parse) else { return false }
        if covers(current, range) && Files.read(marker) == nil { return false }
        guard (try? Files.writeAtomically(format(range) + "\n", to: marker, mode: 0o644)) != nil else { return false }
        if covers(current, range) { return true }
        guard write(adding(range, to: current), to: setting) else {
            unlink(marker)
            return false
        }
        return true
    }

    /// Takes out the range `marker` records, and the marker.
    package static func release(marker: String, setting: String = setting) {
        withSettingLocked { releaseLocked(marker: marker, setting: setting) }
    }

    private static func releaseLocked(marker: String, setting: String) {
        guard let recorded = Files.read(marker).map(parse), let current = Files.read(setting).map(parse) else { return }
        var remaining = current
        for range in recorded { remaining = removing(range, from: remaining) }
        if remaining != current && !write(remaining, to: setting) { return }
        unlink(marker)
    }

    /// Several services on one host (tests run them side by side) read, change and write the one
    /// setting: an exclusive lock on a file beside the pools serializes them, so none loses another's range.
    static func withSettingLocked<T>(_ body: () -> T) -> T {
        let descriptor = open("/run/branch-reserved-ports.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if descriptor >= 0 { _ = flock(descriptor, LOCK_EX) }
        defer { if descriptor >= 0 { close(descriptor) } }
        return body()
    }

    /// "1000,2000-2010" → [1000...1000, 2000...2010]; what does not parse is left out.
    package static func parse(_ text: String) -> [ClosedRange<Int>] {
        text.split(whereSeparator: { $0 == "," || $0.isWhitespace }).compactMap { part in
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            switch bounds.count {
            case 1: return bounds[0]...bounds[0]
            case 2 where bounds[0] <= bounds[1]: return bounds[0]...bounds[1]
            default: return nil
            }
        }
    }

    package static func format(_ ranges: [ClosedRange<Int>]) -> String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")
    }

    static func format(_ range: ClosedRange<Int>) -> String { format([range]) }

    static func covers(_ ranges: [ClosedRange<Int>], _ range: ClosedRange<Int>) -> Bool {
        range.allSatisfy { port in ranges.contains { $0.contains(port) } }
    }

    /// The ranges with `range` added, sorted and merged.
    package static func adding(_ range: ClosedRange<Int>, to ranges: [ClosedRange<Int>]) -> [ClosedRange<Int>] {
        var merged: [ClosedRange<Int>] = []
        for next in (ranges + [range]).sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, next.lowerBound <= last.upperBound + 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, next.upperBound)
            } else {
                merged.append(next)
            }
        }
        return merged
    }

    /// The ranges without the ports of `range`.
    package static func removing(_ range: ClosedRange<Int>, from ranges: [ClosedRange<Int>]) -> [ClosedRange<Int>] {
        ranges.flatMap { existing -> [ClosedRange<Int>] in
            guard existing.overlaps(range) else { return [existing] }
            var parts: [ClosedRange<Int>] = []
            if existing.lowerBound < range.lowerBound { parts.append(existing.lowerBound...(range.lowerBound - 1)) }
            if existing.upperBound > range.upperBound { parts.append((range.upperBound + 1)...existing.upperBound) }
            return parts
        }
    }

    static func write(_ ranges: [ClosedRange<Int>], to setting: String) -> Bool {
        // A sysctl file takes the whole value in one write (not a rename).
        let descriptor = open(setting, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let bytes = Array((format(ranges) + "\n").utf8)
        return bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) } == bytes.count
    }
}
