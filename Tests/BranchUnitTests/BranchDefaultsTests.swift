import BranchCore
@testable import BranchCatalog
@testable import BranchEngine
import Foundation
import Testing

@Suite("Branch defaults: a new branch's time to live and protection")
struct BranchDefaultsTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func project(ttl: Int? = nil, protect: Bool = false) throws -> ProjectRecord {
        var project = ProjectRecord(
            name: try ResourceName(validating: "shop"), state: .ready, pgMajor: 15, role: "shop", database: "shop", password: "p",
            verifier: "v", checkedOut: .main, createdAt: now, operationID: nil)
        project.newBranchTimeToLive = ttl
        project.protectNewBranches = protect
        return project
    }

    @Test("what the creator does not choose comes from the project; what it chooses wins")
    func creatorWins() throws {
        let defaults = try project(ttl: 3600, protect: true)
        let defaulted = try NewBranchLifetime(ttlSeconds: nil, protected: nil, defaults: defaults, now: now)
        #expect(defaulted.expiresAt == now.addingTimeInterval(3600) && defaulted.protected)
        let chosen = try NewBranchLifetime(ttlSeconds: 0, protected: false, defaults: defaults, now: now)
        #expect(chosen.expiresAt == nil && !chosen.protected, "0 keeps it whatever the default")
        let longer = try NewBranchLifetime(ttlSeconds: 86_400, protected: nil, defaults: defaults, now: now)
        #expect(longer.expiresAt == now.addingTimeInterval(86_400) && longer.protected)
        let plain = try NewBranchLifetime(ttlSeconds: nil, protected: nil, defaults: try project(), now: now)
        #expect(plain.expiresAt == nil && !plain.protected)
        #expect(throws: EngineError.self) { try NewBranchLifetime(ttlSeconds: 400 * 86_400, protected: nil, defaults: defaults, now: now) }
    }

    @Test("settings: 0 clears the default time to live, a year is the most, protection is set or cleared")
    func settings() throws {
        var record = try project()
        let change = ProjectSettings(newBranchTtlSeconds: 7 * 86_400, protectNewBranches: true)
        try change.validate()
        change.apply(to: &record)
        #expect(record.newBranchTimeToLive == 7 * 86_400 && record.protectNewBranches)
        ProjectSettings(memoryBytes: 0).apply(to: &record)
        #expect(record.newBranchTimeToLive == 7 * 86_400 && record.protectNewBranches, "absent fields stay")
        ProjectSettings(newBranchTtlSeconds: 0, protectNewBranches: false).apply(to: &record)
        #expect(record.newBranchTimeToLive == nil && !record.protectNewBranches)
        #expect(throws: EngineError.self) { try ProjectSettings(newBranchTtlSeconds: 400 * 86_400).validate() }
        #expect(throws: EngineError.self) { try ProjectSettings(newBranchTtlSeconds: -5).validate() }
    }
}
