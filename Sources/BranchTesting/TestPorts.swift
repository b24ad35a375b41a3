import BranchSystem
import Foundation
import Synchronization

/// Ports for the servers tests start (the service's API and pooler, S3, Postgres, closed ports).
///
/// Not the kernel's pick: a port it hands out comes from the ephemeral range, and between the probe
/// closing it and the server binding it, any outgoing connection on the machine (the other test
/// shard's curl, psql, podman) may take it, so `branch serve` failed with EADDRINUSE now and then.
/// These come from 30000-32767, below the ephemeral range (32768-60999), which no client is given;
/// each shard has its own share (`TestShard`) and hands its ports out in turn, so two tests never share one.
package enum TestPorts {
    static let range = TestShard.share(of: 30000...32767)

    private static let next = Mutex(Int.random(in: 0..<1000))

    /// The next port of this shard's range that nothing listens on.
    package static func free() throws -> Int {
        for _ in 0..<range.count {
            let port = next.withLock { offset in
                defer { offset = (offset + 1) % range.count }
                return range.lowerBound + offset
            }
            if !PortProbe.isHeld(port) && PortProbe.isFree(port) { return port }
        }
        throw TestFailure("no free port in \(range)")
    }
}
