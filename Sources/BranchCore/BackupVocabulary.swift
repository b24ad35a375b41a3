// What a backup is, in the words the catalog, the engine and the API share.

/// A full backup stands alone; an incremental one needs its parent chain.
public enum BackupKind: String, Codable, Sendable {
    case full, incremental
}

/// A backup is written (`running`), then `complete`, or `failed` (also when the service stopped mid-way).
public enum BackupStatus: String, Codable, Sendable {
    case running, complete, failed
}
