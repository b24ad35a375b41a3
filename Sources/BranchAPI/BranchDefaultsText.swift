import BranchCore

extension Components.Schemas.ProjectInfo {
    /// What `branch project show` and the console say of a project's branch defaults: "deleted
    /// after 7d, protected", "kept until deleted, not protected".
    package var branchDefaultsText: String {
        let kept = newBranchTtlSeconds.map { "deleted after \(Seconds.format($0))" } ?? "kept until deleted"
        return kept + (protectNewBranches ? ", protected" : ", not protected")
    }
}
