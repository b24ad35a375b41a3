import BranchCore
import BranchSystem
import Foundation

/// For the test suite only: with `BRANCH_TEMPLATE_CACHE=<directory>` in the service's environment
/// (the test harness sets it; nothing else does), a pool's template is copied from a template an
/// earlier pool of the same test run built, instead of being built again: initdb, a start, the
/// data API's setup and a clean stop took about 4 s of every test environment's first start.
/// Entries are keyed by the Postgres version and the template's contents marker; the harness keys
/// the directory by the binary under test, and `make test` removes it when it ends.
struct TemplateCache {
    let entry: String

    init?(environment: [String: String], postgresVersion: String, contents: String) {
        guard let root = environment["BRANCH_TEMPLATE_CACHE"], root.hasPrefix("/") else { return nil }
        let marker = contents.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? String($0) : "-" }.joined()
        entry = "\(root)/pg\(postgresVersion)-\(marker)"
    }

    /// Copies the cached template into `work` (an empty subvolume); false when there is none yet.
    func restore(into work: String) async -> Bool {
        guard Files.exists(entry) else { return false }
        return (try? await Command.run("cp", ["-a", "\(entry)/.", work], check: false))?.succeeded == true
    }

    /// Keeps a copy of a template just built. Two pools building at once each copy to their own
    /// place and the first rename wins; a failure only means the next pool builds its own.
    func store(from work: String) async {
        let staging = "\(entry).\(getpid())-\(Identifiers.shortID(length: 6))"
        guard (try? Files.ensureDirectory((entry as NSString).deletingLastPathComponent, mode: 0o700)) != nil,
            (try? await Command.run("cp", ["-a", work, staging], check: false))?.succeeded == true,
            rename(staging, entry) == 0
        else {
            try? FileManager.default.removeItem(atPath: staging)
            return
        }
    }
}
