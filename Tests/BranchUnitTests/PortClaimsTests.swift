@testable import BranchEngine
import Testing

@Suite("Port claims")
struct PortClaimsTests {
    @Test("a port handed out is not handed out again until its claim expires")
    func claims() {
        let claims = PortClaims(lifetime: .seconds(60))
        let start = ContinuousClock.now
        #expect(claims.claim(from: 100...102, now: start) { _ in true } == 100)
        #expect(claims.claim(from: 100...102, now: start) { _ in true } == 101)
        #expect(claims.claim(from: 100...102, now: start) { $0 != 102 } == nil)
        #expect(claims.claim(from: 100...102, now: start + .seconds(61)) { _ in true } == 100)
    }
}
