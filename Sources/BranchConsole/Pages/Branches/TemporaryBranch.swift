import BranchAPI
import BranchCore
import Foundation

/// A branch made for one page's reads: `base` as it was at an instant (from its snapshots and
/// archived WAL), as it is now, or a snapshot; deleted once the page has read it. It is how the
/// SQL editor, the table editor and the database page read "as of", and how a merge is rehearsed,
/// without a server of their own; making it needs the developer role. It is never protected,
/// whatever the project's branch defaults, so that it can be deleted.
struct TemporaryBranch: Sendable {
    let environment: ConsoleEnvironment
    let project: String

    /// Runs `body` with the name of a new branch of `base` at `point` (an instant, or a WAL position
    /// of its current history; nil: as it is now); the
    /// branch is deleted after it, whatever `body` does. A failure to make it is the
    /// `ConsoleFailure` of `createBranch`.
    func at<T: Sendable>(_ point: PastPoint?, of base: String, prefix: String = "at", _ body: (String) async throws -> T) async throws -> T {
        let request = Components.Schemas.CreateBranchRequest(
            at: point?.instant, atLsn: point?.position?.description, from: base, name: "\(prefix)-" + Self.shortID(), protected: false)
        return try await with(request, body)
    }

    /// Runs `body` with the name of a new branch made from snapshot `id`, deleted after it.
    func from<T: Sendable>(snapshot id: String, prefix: String = "snap", _ body: (String) async throws -> T) async throws -> T {
        try await with(.init(name: "\(prefix)-" + Self.shortID(), protected: false, snapshot: id), body)
    }

    private func with<T: Sendable>(_ request: Components.Schemas.CreateBranchRequest, _ body: (String) async throws -> T) async throws -> T {
        let project = project
        let name = request.name
        _ = try await environment.call("createBranch", project: project, changes: true, target: name) {
            try await $0.createBranch(.init(path: .init(project: project), body: .json(request))).created.body.json
        }
        do {
            let result = try await body(name)
            try? await delete(name)
            return result
        } catch {
            try? await delete(name)
            throw error
        }
    }

    func delete(_ name: String) async throws {
        let project = project
        _ = try await environment.call("deleteBranch", project: project, changes: true, target: name) {
            try await $0.deleteBranch(.init(path: .init(project: project, branch: name))).ok.body.json
        }
    }

    /// Six hex digits: short, and valid in a branch name.
    static func shortID() -> String {
        String((0..<6).map { _ in "0123456789abcdef".randomElement()! })
    }
}
