import BranchAPI
@testable import BranchConsole
import Foundation
import Testing

/// The overview at a past instant: what existed then, and the server sample nearest before it.
@Suite("Console overview: a past instant")
struct ConsoleOverviewMomentTests {
    let instant = Date(timeIntervalSince1970: 1_800_000_000)

    func sample(_ offset: TimeInterval, status: String) -> Components.Schemas.MetricSample {
        .init(at: instant.addingTimeInterval(offset), restarts: 0, status: status)
    }

    @Test("the newest sample at or before the instant, and none older than five minutes")
    func samples() {
        let moment = OverviewMoment(instant: instant)
        #expect(moment.sample([sample(-120, status: "stopped"), sample(-10, status: "running"), sample(5, status: "crashed")])?.status == "running")
        #expect(moment.sample([sample(-301, status: "running")]) == nil)
        #expect(moment.sample([sample(1, status: "running")]) == nil)
    }

    @Test("metrics reach back to the instant, within a day")
    func minutes() {
        #expect(OverviewMoment.minutes(back: instant, now: instant.addingTimeInterval(600)) == 16)
        #expect(OverviewMoment.minutes(back: instant, now: instant.addingTimeInterval(90 * 86_400)) == 1440)
        #expect(OverviewMoment.minutes(back: instant, now: instant) == 6)
    }
}
