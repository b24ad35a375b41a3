import Foundation
import Synchronization

/// Ports handed out but perhaps not yet in the catalog: two branches created at once in different
/// projects (each under its own project's lock) would otherwise read the same used ports and pick
/// the same free one. A claim lasts long enough for the branch row to be written.
final class PortClaims: Sendable {
    private let claims = Mutex<[Int: ContinuousClock.Instant]>([:])
    let lifetime: Duration

    init(lifetime: Duration = .seconds(120)) { self.lifetime = lifetime }

    /// Claims the first port of `candidates` not claimed in the last `lifetime` and accepted by
    /// `isUsable`; nil when none is.
    func claim(from candidates: some Sequence<Int>, now: ContinuousClock.Instant = .now, where isUsable: (Int) -> Bool) -> Int? {
        claims.withLock { claims in
            claims = claims.filter { now - $0.value < lifetime }
            for port in candidates where claims[port] == nil && isUsable(port) {
                claims[port] = now
                return port
            }
            return nil
        }
    }
}
