import BranchAPI
import BranchSystem
import BranchTesting
import Foundation
import Testing

/// A project's origin snapshot is taken from the template copy before main's owner role and
/// database get the project's names; branches and in-place restores from it must still work
/// with the project's own role, password and database.
@Suite("The origin snapshot")
struct OriginSnapshotTests {
    @Test("a branch of the origin snapshot, and main restored in place to it, answer as the project's owner")
    func originSnapshot() async throws {
        try await TestEnvironment.with { env in
            try await env.linkedProject()
            let snapshots = try await env.json(SnapshotList.self, "snapshot", "list").snapshots
            let origin = try #require(snapshots.filter { $0.kind == "automatic" && $0.sourceBranch == "main" }.min { $0.createdAt < $1.createdAt })

            _ = try await env.json(BranchResult.self, "create", "early", "--snapshot", origin.id)
            let direct = try await env.cli("url", "early", "--direct").output
            #expect(try await env.psql(direct, "select current_user || '/' || current_database()") == "app/app")
            #expect(try await env.psql(try await env.cli("url", "early").output, "select 1") == "1")

            _ = try await env.psql(try await env.cli("url", "main").output, "create table later (id int)")
            _ = try await env.json(BranchResult.self, "restore", origin.id, "--in-place")
            let main = try await env.cli("url", "main", "--direct").output
            #expect(try await env.psql(main, "select current_user || '/' || current_database() || '/' || (to_regclass('later') is null)::text") == "app/app/true")
        }
    }
}
