// What a backup is, in the words the catalog, the engine and the API share.

/// A full backup stands alone; an incremental one needs its parent chain.
package enum BackupKind: String, Codable, Sendable {
    case full, incremental
}

/// A backup is written (`running`), then `complete`, or `failed` (also when the service stopped mid-way).
package enum BackupStatus: String, Codable, Sendable {
    case running, complete, failed
}
