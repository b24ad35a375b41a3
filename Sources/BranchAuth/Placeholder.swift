// Replaced by the BranchAuth sources.
