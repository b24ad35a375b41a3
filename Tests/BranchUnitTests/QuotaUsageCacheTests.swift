@testable import BranchConsole
import BranchStorage
import Synchronization
import Testing

/// The pool's cached quota reading: reused while fresh, read again once stale or after a change,
/// never stored when a change happened during the read.
@Suite("Quota usage cache")
struct QuotaUsageCacheTests {
    /// A clock the test moves by hand, and a count of readings.
    final class Fixture: Sendable {
        let time = Mutex(ContinuousClock.now)
        let reads = Mutex(0)
        func advance(_ duration: Duration) { time.withLock { $0 += duration } }
        func read(_ value: Int?) -> Int? {
            reads.withLock { $0 += 1 }
            return value
        }
        func cache() -> QuotaUsageCache<Int> { QuotaUsageCache(maximumAge: .seconds(1)) { self.time.withLock { $0 } } }
    }

    @Test("a reading is reused within its maximum age and read again after it")
    func expiry() {
        let fixture = Fixture()
        let cache = fixture.cache()
        #expect(cache.usage { fixture.read(1) } == 1)
        fixture.advance(.milliseconds(900))
        #expect(cache.usage { fixture.read(2) } == 1)
        fixture.advance(.milliseconds(100))
        #expect(cache.usage { fixture.read(3) } == 3)
        #expect(fixture.reads.withLock { $0 } == 2)
    }

    @Test("a change drops the reading; a failed reading is not kept")
    func invalidation() {
        let fixture = Fixture()
        let cache = fixture.cache()
        #expect(cache.usage { fixture.read(1) } == 1)
        cache.invalidate()
        #expect(cache.usage { fixture.read(nil) } == nil)
        #expect(cache.usage { fixture.read(2) } == 2)
        #expect(cache.usage { fixture.read(3) } == 2)
        #expect(fixture.reads.withLock { $0 } == 3)
    }

    @Test("a reading taken while the pool changed is not stored")
    func changeDuringRead() {
        let fixture = Fixture()
        let cache = fixture.cache()
        #expect(cache.usage { cache.invalidate(); return fixture.read(1) } == 1)
        #expect(cache.usage { fixture.read(2) } == 2)
    }

    @Test("Server-Timing durations are milliseconds with one decimal", arguments: [
        (Duration.milliseconds(12), "12.0"), (.microseconds(12_345), "12.3"), (.microseconds(12_350), "12.4"), (.seconds(1) + .microseconds(50), "1000.1"),
        (.zero, "0.0"),
    ])
    func serverTiming(_ duration: Duration, _ text: String) {
        #expect(ServerTiming.milliseconds(duration) == text)
    }
}
