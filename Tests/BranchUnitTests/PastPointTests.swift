import BranchCore
import BranchPostgres
import Foundation
import Testing

/// Past points as users write them (an instant or a WAL position), and the recovery settings
/// each becomes.
@Suite("Past points: instants and WAL positions")
struct PastPointTests {
    @Test("WAL positions: Postgres's X/Y in hexadecimal, in any case; anything else is not one")
    func positions() throws {
        #expect(WALPosition("0/16B3748")?.value == 0x16B_3748)
        #expect(WALPosition("1/0")?.value == 0x1_0000_0000)
        #expect(WALPosition("a/ff")?.description == "A/FF")
        #expect(WALPosition("FFFFFFFF/FFFFFFFF")?.value == UInt64.max)
        for bad in ["", "/", "0/", "/1", "0/XYZ", "1/2/3", "123456789/0", "0x1/2", " 0/1", "-1/0"] {
            #expect(WALPosition(bad) == nil, "\(bad)")
        }
        #expect(try #require(WALPosition("0/FF")) < (try #require(WALPosition("1/0"))))
    }

    @Test("a past point is a WAL position when it reads as one, else an instant")
    func points() {
        #expect(PastPoint.parse("0/16B3748") == .position(WALPosition(0x16B_3748)))
        #expect(PastPoint.parse("2026-11-21T10:15:30Z") == .instant(ISO8601DateFormatter().date(from: "2026-11-21T10:15:30Z")!))
        let now = Date()
        #expect(PastPoint.parse("15m-ago", now: now) == .instant(now.addingTimeInterval(-900)))
        #expect(PastPoint.parse("yesterday") == nil)
        #expect(PastPoint.parse("0/16B3748")?.position?.description == "0/16B3748" && PastPoint.parse("0/16B3748")?.instant == nil)
    }

    @Test("an instant stops after its commits, a WAL position before the record at it")
    func recoverySettings() {
        let atTime = WALArchive.recoverySettings(restoreDirectory: "/w", scriptDirectory: "/s", target: .time("2026-11-21 10:15:30.000000+00"))
        #expect(atTime.contains("recovery_target_time = '2026-11-21 10:15:30.000000+00'") && atTime.contains("recovery_target_inclusive = on"))
        let atPosition = WALArchive.recoverySettings(restoreDirectory: "/w", scriptDirectory: "/s", target: .position("0/16B3748"))
        #expect(atPosition.contains("recovery_target_lsn = '0/16B3748'") && atPosition.contains("recovery_target_inclusive = off"))
        #expect(!atPosition.contains("recovery_target_time =") && atPosition.contains("recovery_target_action = 'promote'"))
        let everything = WALArchive.recoverySettings(restoreDirectory: "/w", scriptDirectory: "/s", target: nil)
        #expect(!everything.contains("recovery_target_action") && everything.contains("restore_command"))
    }
}
